"""Outcomes end to end with the sandbox: callbacks it posts, polling, cancel, reconcile."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batchqueue.callbacks.app import CallbackApp
from batchqueue.http_serving import HttpServer
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, ledger_rows, point_at, point_at_url, scripted_insight, wait_for

Run = Callable[..., CliResult]


def _import(tmp_path: Path, run_cli: Run, n: int = 20) -> Path:
    assert run_cli("import", contacts(tmp_path / "c.csv", n), "--survey", "4242", "--instance", "1").code == 0
    return tmp_path / "batchqueue.db"


@pytest.mark.parametrize("encoding", ["form", "multipart", "json"])
def test_sandbox_callbacks_fill_in_outcomes(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    db = _import(tmp_path, run_cli)
    ledger = open_ledger(f"sqlite:///{db}")
    app = CallbackApp(ledger, tmp_path / "spool")
    receiver = HttpServer(app, port=0).start()
    sb = Sandbox(SandboxConfig(completion=Completion(after=0.1, encoding=encoding, seed=4))).start()
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", "--rate", "0", "--public-url", receiver.url, "--json")
        assert result.code == 0
        wait_for(lambda: sum(ledger.outcome_counts(1).values()) == 20)
    finally:
        sb.stop()
        receiver.stop()
        app.close()
    outcomes = ledger.outcome_counts(1)
    assert set(outcomes) <= {"completed", "failed", "rejected"}
    assert outcomes.get("completed", 0) > 0
    status = run_cli("status", "1", "--json").json()
    assert status["outcomes"] == outcomes
    assert all(r["outcome_source"] == "callback" for r in ledger_rows(db))


def test_poll_records_status_and_a_404_is_not_fatal(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _import(tmp_path, run_cli)
    sb = Sandbox(SandboxConfig(completion=Completion(after=0.2, seed=9))).start()
    try:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0").code == 0
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE rows SET call_id = '999999' WHERE id = (SELECT min(id) FROM rows)")
        first = run_cli("poll", "1", "--rate", "0", "--json").json()  # calls may still be queued
        assert first["checked"] == 20
        assert first["not_found"] == 1
        final = run_cli("poll", "1", "--rate", "0", "--until-final", "--interval", "0.2", "--deadline", "20", "--json")
    finally:
        sb.stop()
    assert final.code == 0
    assert final.json()["remaining"] == 0
    rows = ledger_rows(db)
    assert rows[0]["outcome_status"] == "not_found"
    assert {r["outcome_status"] for r in rows[1:]} <= {"completed", "failed", "rejected"}
    assert all(r["outcome_source"] == "poll" for r in rows)


def test_poll_stops_on_a_revoked_key(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    _import(tmp_path, run_cli, 5)
    sb = Sandbox().start()
    try:
        point_at(monkeypatch, sb)
        run_cli("run", "1", "--rate", "0")
        point_at(monkeypatch, sb, key="revoked")
        result = run_cli("poll", "1", "--rate", "0")
    finally:
        sb.stop()
    assert result.code == 3
    assert "HTTP 401" in result.err


def test_remote_cancel_fires_canceled_callbacks(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _import(tmp_path, run_cli, 5)
    ledger = open_ledger(f"sqlite:///{db}")
    app = CallbackApp(ledger, tmp_path / "spool")
    receiver = HttpServer(app, port=0).start()
    sb = Sandbox(SandboxConfig(completion=Completion(after=60))).start()
    try:
        point_at(monkeypatch, sb)
        run_cli("run", "1", "--rate", "0", "--public-url", receiver.url)
        assert run_cli("cancel", "1", "--remote", "--yes").code == 0
        wait_for(lambda: ledger.outcome_counts(1).get("canceled") == 5)
    finally:
        sb.stop()
        receiver.stop()
        app.close()


def test_reconcile_lists_first_and_changes_only_when_asked(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _import(tmp_path, run_cli, 6)
    sb = Sandbox(SandboxConfig(faults=Faults(p_500_before=1.0))).start()
    try:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--breaker", "100").code == 1
    finally:
        sb.stop()
    ledger = open_ledger(f"sqlite:///{db}")
    assert ledger.counts(1)["uncertain"] == 6
    ledger.close()
    with sqlite3.connect(db) as conn:  # one row proven by a callback, one still inside its window
        ids = [r[0] for r in conn.execute("SELECT id FROM rows ORDER BY id")]
        conn.execute("UPDATE rows SET state = 'queued', outcome_status = 'completed' WHERE id = ?", (ids[0],))
        conn.execute("UPDATE rows SET end_ts = ? WHERE id = ?", (int(time.time()) + 3600, ids[1]))
    dry = run_cli("reconcile", "1", "--grace", "0", "--json").json()
    assert dry["changed"] == 0
    assert [u["row_id"] for u in dry["unproven"]] == ids[2:]
    human = run_cli("reconcile", "1", "--grace", "0")
    assert "would become pending with --resend-unproven" in human.out
    assert "row 4 " in human.out
    assert run_cli("status", "1", "--json").json()["counts"]["uncertain"] == 5  # the dry run changed nothing
    done = run_cli("reconcile", "1", "--grace", "0", "--resend-unproven", "--json").json()
    assert done["changed"] == 4
    counts = done["counts"]
    assert (counts["pending"], counts["uncertain"], counts["queued"]) == (4, 1, 1)
    long_grace = run_cli("reconcile", "1", "--grace", "99999", "--json").json()
    assert long_grace["unproven"] == []


HOSTILE_STATUS = {
    "1": b'{"success": true, "call_details": {"status": "completed", "attempts": "inf"}}',
    "2": b"[" * 50000,
    "3": b'{"success": true, "call_details": {"status": "completed", "attempts": ' + b"9" * 5000 + b"}}",
    "4": b'{"success": true, "call_details": {"status": "failed", "note": "\\ud800 lone"}}',
    "5": b'{"success": true, "call_details": {"attempts": "1"}}',
}


def test_malformed_status_replies_are_recorded_per_row_and_the_rest_settle(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _import(tmp_path, run_cli, 8)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rows SET state = 'queued', call_id = CAST(id AS TEXT)")

    def status(path: str) -> bytes:
        return HOSTILE_STATUS.get(
            path.rsplit("/", 1)[-1], b'{"success": true, "call_details": {"status": "completed"}}'
        )

    with scripted_insight(status) as server:
        point_at_url(monkeypatch, server.url + "/api")
        result = run_cli("poll", "1", "--rate", "0", "--until-final", "--interval", "0.2", "--deadline", "1", "--json")
    assert result.code == 1, result.err  # the unreadable ones are still open when the deadline passes
    assert "Traceback" not in result.err
    summary = result.json()
    assert summary["exit_reason"] == "deadline"
    assert summary["remaining"] == 3
    rows = {r["call_id"]: r for r in ledger_rows(db)}
    assert rows["1"]["outcome_status"] == "completed"
    assert rows["1"]["outcome_attempts"] is None
    assert rows["4"]["outcome_status"] == "failed"
    assert all(rows[c]["outcome_status"] is None for c in ("2", "3", "5"))
    assert all(rows[c]["outcome_status"] == "completed" for c in ("6", "7", "8"))
    with sqlite3.connect(db) as conn:
        errors = conn.execute(
            "SELECT r.call_id, e.detail FROM outcome_events e JOIN rows r ON r.id = e.row_id WHERE e.verdict = 'error'"
        ).fetchall()
    assert {c for c, _ in errors} == {"2", "3", "5"}
    assert all(detail.startswith("unreadable status reply") for _, detail in errors)


GOOD_STATUS = b'{"success": true, "call_details": {"status": "completed"}}'


def _insight_answering(status: str, body_for: Callable[[str], bytes]) -> HttpServer:
    """An 'Insight' that answers every status request with ``status`` and ``body_for(call id)``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = body_for(environ["PATH_INFO"].rsplit("/", 1)[-1])
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return HttpServer(app, port=0)


@pytest.mark.parametrize("output", ["json", "text"])
@pytest.mark.parametrize(
    ("status", "bad_ids", "extra", "code", "unreadable"),
    [
        ("200 OK", {"1", "2", "3", "4", "5"}, (), 4, 5),  # every reply unreadable: nothing was learned
        ("200 OK", {"1", "2", "3", "4", "5"}, ("--until-final", "--interval", "0.2", "--deadline", "1"), 4, 5),
        ("503 Service Unavailable", {"1", "2", "3", "4", "5"}, (), 4, 0),  # every request failed
        ("200 OK", {"2", "4"}, (), 1, 2),  # some unreadable: finished, with problems
    ],
)
def test_poll_says_how_many_replies_were_unreadable_and_never_exits_0_for_them(
    tmp_path: Path,
    run_cli: Run,
    monkeypatch: pytest.MonkeyPatch,
    output: str,
    status: str,
    bad_ids: set[str],
    extra: tuple[str, ...],
    code: int,
    unreadable: int,
) -> None:
    db = _import(tmp_path, run_cli, 5)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE rows SET state = 'queued', call_id = CAST(id AS TEXT)")

    def body(call_id: str) -> bytes:
        return HOSTILE_STATUS["5"] if call_id in bad_ids else GOOD_STATUS

    with _insight_answering(status, body) as server:
        point_at_url(monkeypatch, server.url + "/api")
        result = run_cli("poll", "1", "--rate", "0", *extra, *(["--json"] if output == "json" else []))
    assert result.code == code, result.out + result.err
    assert "Traceback" not in result.err
    if output == "text":
        if code == 4:
            assert "no status reply could be read" in result.err
        if unreadable and not extra:
            assert f"{unreadable} unreadable" in result.err  # says how many, where the user reads
        return
    summary = result.json()
    rounds = summary["rounds"]
    assert (summary["unreadable"], summary["errors"]) == (unreadable * rounds, len(bad_ids) * rounds)
    if code == 4:
        assert (summary["exit_reason"], summary["recorded"]) == ("no_readable_reply", 0)
    else:
        assert (summary["exit_reason"], summary["recorded"]) == ("done", 5 - unreadable)
