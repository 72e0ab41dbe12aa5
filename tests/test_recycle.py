"""Recycling unreached contacts: after the callbacks came in, ``recycle`` makes the next wave of
exactly the contacts whose call ended with the outcomes asked for; it is sent like any job, its
re-contact limit does not count its own parent's calls (but does count other jobs'), do-not-call
lists apply again, ``status`` shows the waves and the parent's report each contact's latest outcome."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from batchqueue.callbacks.app import CallbackApp
from batchqueue.http_serving import HttpServer
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from tests.conftest import CliResult
from tests.sandbox_helpers import contacts, ledger_rows, point_at, wait_for

Run = Callable[..., CliResult]


def test_recycle_after_callbacks_makes_the_next_wave(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    source = contacts(tmp_path / "c.csv", 30)
    imported = run_cli("import", source, "--survey", "4242", "--instance", "1", "--recontact-after", "7d")
    assert imported.code == 0, imported.err
    ledger = open_ledger(f"sqlite:///{db}")
    app = CallbackApp(ledger, tmp_path / "spool")
    receiver = HttpServer(app, port=0).start()
    weights = (("completed", 0.5), ("failed", 0.3), ("rejected", 0.2))
    sb = Sandbox(SandboxConfig(completion=Completion(after=0.05, weights=weights, seed=3))).start()
    try:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0", "--public-url", receiver.url).code == 0
        wait_for(lambda: sum(ledger.outcome_counts(1).values()) == 30)
        first = {r["row_number"]: r["outcome_status"] for r in ledger_rows(db, 1)}
        unreached = {n for n, outcome in first.items() if outcome in ("failed", "rejected")}
        assert 0 < len(unreached) < 30
        # One unreached contact opted out since: the wave suppresses it.
        opted_out = min(unreached)
        phone = next(r["e164"] for r in ledger_rows(db, 1) if r["row_number"] == opted_out)
        assert run_cli("dnc", "add", phone).code == 0

        made = run_cli("recycle", "1", "--outcome", "failed,rejected", "--after", "4h", "--json")
        assert made.code == 0, made.err
        wave = made.json()
        assert (wave["parent_job_id"], wave["job_id"], wave["wave"], wave["rows"]) == (1, 2, 2, len(unreached))
        rows = ledger_rows(db, 2)
        assert {r["row_number"] for r in rows} == unreached
        assert {r["row_number"] for r in rows if r["state"] == "suppressed"} == {opted_out}
        # Its own parent's calls (within the 7-day re-contact limit) do not bar the wave.
        assert {r["state"] for r in rows if r["row_number"] != opted_out} == {"pending"}
        # --after 4h: never before four hours after the parent's last attempt.
        parent = {r["row_number"]: r for r in ledger_rows(db, 1)}
        for r in rows:
            last = parent[r["row_number"]]["outcome_last_attempt_at"] or parent[r["row_number"]]["outcome_at"]
            assert r["start_ts"] >= int(last) + 4 * 3600
            assert r["token"] != parent[r["row_number"]]["token"]  # a fresh callback secret

        before = len(sb.app.store.dump())
        sent = run_cli("run", "2", "--rate", "0", "--public-url", receiver.url, "--json")
        assert sent.code == 0, sent.err
        assert sent.json()["sent"] == len(unreached) - 1
        wait_for(lambda: sum(ledger.outcome_counts(2).values()) == len(unreached) - 1)
        calls = sb.app.store.dump()[before:]
        assert len(calls) == len(unreached) - 1
        assert all(int(c["fields"]["start_timestamp"]) >= int(time.time()) + 4 * 3600 - 60 for c in calls)
    finally:
        sb.stop()
        receiver.stop()
        app.close()

    status = run_cli("status", "1", "--json").json()
    assert [(w["job_id"], w["wave"]) for w in status["waves"]] == [(1, 1), (2, 2)]
    assert "wave 2: job 2" in run_cli("status", "2").out

    report = tmp_path / "r.csv"
    assert run_cli("export", "1", "-o", report).code == 0
    with report.open(encoding="utf-8-sig", newline="") as f:
        found = {int(r["bq_row"]): r for r in csv.DictReader(f)}
    second = {r["row_number"]: r["outcome_status"] for r in ledger_rows(db, 2) if r["state"] == "queued"}
    for number, outcome in first.items():
        latest = second.get(number, outcome)
        assert found[number]["bq_latest_call_outcome"] == latest
        assert found[number]["bq_waves_called"] == ("2" if number in second else "1")
        assert found[number]["bq_call_outcome"] == outcome  # the parent's own outcome is unchanged
    # Recycling a wave where no call ended that way makes nothing.
    nothing = run_cli("recycle", "2", "--outcome", "canceled")
    assert nothing.code == 0
    assert "no wave created" in nothing.out


def test_another_jobs_recent_call_still_bars_a_wave(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "l.db"
    monkeypatch.setenv("BATCHQUEUE_DB", str(db))
    source = contacts(tmp_path / "c.csv", 6)
    assert run_cli("import", source, "--survey", "4242", "--instance", "1", "--recontact-after", "7d").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "0").code == 0
    with open_ledger(f"sqlite:///{db}").engine.begin() as conn:
        conn.exec_driver_sql("UPDATE rows SET outcome_status = 'failed', outcome_at = 1 WHERE job_id = 1")
    # Another campaign (job 2) calls the first contact after job 1 did.
    other = contacts(tmp_path / "other.csv", 1)
    assert run_cli("import", other, "--survey", "4242", "--instance", "1", "--new-job").code == 0
    with Sandbox() as sb:
        point_at(monkeypatch, sb)
        assert run_cli("run", "2", "--rate", "0").code == 0
    made = run_cli("recycle", "1", "--outcome", "failed", "--json").json()
    rows = ledger_rows(db, made["job_id"])
    assert [r["state"] for r in rows] == ["suppressed"] + ["pending"] * 5
    assert "contacted by job 2" in rows[0]["reasons"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--outcome", "busy"], "give final outcomes among"), (["--outcome", "failed", "--after", "soon"], "--after")],
)
def test_recycle_refuses_bad_options(tmp_path: Path, run_cli: Run, args: list[str], message: str) -> None:
    db = tmp_path / "l.db"
    assert run_cli("import", contacts(tmp_path / "c.csv", 2), "--survey", "1", "--instance", "1", "--db", db).code == 0
    done = run_cli("recycle", "1", *args, "--db", db)
    assert done.code == 2
    assert message in done.err
