"""Promises a mutation pass found untested: each test here fails if the line that keeps it is broken."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from batchqueue.callbacks.app import CallbackApp
from batchqueue.cell_safety import safe_cell, safe_row
from batchqueue.http_serving import HttpServer
from batchqueue.ledger import open_ledger
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.sandbox.completer import Completion
from tests.conftest import CliResult, write_csv
from tests.sandbox_helpers import (
    contacts,
    ledger_rows,
    point_at,
    point_at_url,
    run_process,
    sandbox_env,
    sandbox_phones,
    scripted_insight,
    wait_until,
)

Run = Callable[..., CliResult]
FAST = ["--rate", "0", "--concurrency", "8", "--retries", "2", "--json"]


def _sandbox(**faults: Any) -> Sandbox:
    return Sandbox(SandboxConfig(faults=Faults(**faults))).start()


@pytest.fixture
def job(tmp_path: Path, run_cli: Run) -> Path:
    assert run_cli("import", contacts(tmp_path / "c.csv", 30), "--survey", "4242", "--instance", "1").code == 0
    return tmp_path / "batchqueue.db"


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+16175550101", "-2", "@SUM(A1)", "\tx", "\rx", "=cmd|' /c calc'!A0", "＝1+1", "＋1", "－2", "＠SUM(A1)"],
)
def test_the_cell_safety_function_neutralises_every_formula_start(value: str) -> None:
    assert safe_cell(value) == "'" + value
    assert safe_row([value, "plain"]) == ["'" + value, "plain"]


def test_the_xlsx_report_marks_every_formula_like_cell_as_text(tmp_path: Path, run_cli: Run) -> None:
    starts = ["=1+1", "+cmd", "-5", "@me", "＝1+1", "＋cmd", "－5", "＠me"]
    path = write_csv(tmp_path / "f.csv", [["phone", "note"]] + [[f"617555010{i}", s] for i, s in enumerate(starts)])
    assert run_cli("import", path, "--survey", "4242", "--instance", "1").code == 0
    assert run_cli("export", "1", "-o", tmp_path / "r.xlsx").code == 0
    sheet = load_workbook(tmp_path / "r.xlsx")["Report"]
    header = [c.value for c in sheet[1]]
    column = header.index("note") + 1
    for row, start in enumerate(starts, start=2):
        cell = sheet.cell(row, column)
        assert cell.value == start  # shown as typed, not prefixed
        assert cell.data_type == "s"  # a string, never a formula
        assert cell.quotePrefix is True, start


def test_duplicates_keep_extensions_apart_when_fields_come_from_columns(tmp_path: Path, run_cli: Run) -> None:
    path = write_csv(
        tmp_path / "p.csv",
        [
            ["phone", "ext", "start"],
            ["6175550101", "1", "2030-01-01 09:00"],
            ["6175550101", "2", "2030-01-01 09:00"],
            ["6175550101", "1", "2030-01-02 09:00"],
        ],
    )
    result = run_cli("check", path, "--column", "postd=ext", "--json").json()
    assert (result["valid"], result["duplicate"]) == (2, 1)


def test_resend_mode_stops_at_three_attempts_a_row(job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = _sandbox(p_500_after=1.0)
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *FAST, "--on-ambiguous", "resend", "--breaker", "100000")
        phones = sandbox_phones(sb)
    finally:
        sb.stop()
    assert result.json()["uncertain"] == 30
    assert set(phones.values()) == {3}  # at least once, at most three times: the opt-in's bound
    assert {r["attempts"] for r in ledger_rows(job)} == {3}


@pytest.mark.parametrize(("mode", "sent"), [("hold", False), ("resend", True)])
def test_rows_found_sending_are_uncertain_unless_resend_is_chosen(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, mode: str, sent: bool
) -> None:
    with sqlite3.connect(job) as conn:
        conn.execute("UPDATE rows SET state = 'sending' WHERE id <= 5")
        stranded = [r[0] for r in conn.execute("SELECT phone_number FROM rows WHERE id <= 5")]
    sb = _sandbox()
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *FAST, "--on-ambiguous", mode)
        phones = sandbox_phones(sb)
    finally:
        sb.stop()
    assert all((phones[p] == 1) is sent for p in stranded)
    assert result.json()["recovered_uncertain"] == 5
    states = {r["phone_number"]: r["state"] for r in ledger_rows(job)}
    assert {states[p] for p in stranded} == ({"queued"} if sent else {"uncertain"})
    assert len(phones) == (30 if sent else 25)


def _rate(arrivals: list[float]) -> float:
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def test_the_request_rate_seen_by_insight_matches_rate(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox()
    try:
        point_at(monkeypatch, sb)
        assert run_cli("run", "1", "--rate", "20", "--concurrency", "8").code == 0
        arrivals = list(sb.app.store.arrivals)
    finally:
        sb.stop()
    assert len(arrivals) == 30
    assert _rate(arrivals) == pytest.approx(20, rel=0.15)


def test_a_429_slows_the_whole_run(tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("import", contacts(tmp_path / "c.csv", 80), "--survey", "4242", "--instance", "1").code == 0
    sb = _sandbox(p_429=0.25, retry_after=None, seed=2)
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", "--rate", "40", "--concurrency", "8", "--retries", "20", "--json")
        arrivals = list(sb.app.store.arrivals)
    finally:
        sb.stop()
    assert result.json()["queued"] == 80
    # Every 429 halves the pace (at most once a second) for every worker, so the run as a whole
    # goes well below the configured 40/s; without that it would stay near 40/s.
    assert _rate(arrivals) < 0.5 * 40


def test_a_callback_before_an_ambiguous_reply_keeps_the_row_queued(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ledger = open_ledger(f"sqlite:///{job}")
    app = CallbackApp(ledger, tmp_path / "spool")
    receiver = HttpServer(app, port=0).start()
    sb = Sandbox(
        SandboxConfig(faults=Faults(p_500_after=1.0, latency_after=1.0), completion=Completion(after=0.0))
    ).start()
    try:
        point_at(monkeypatch, sb)
        result = run_cli("run", "1", *FAST, "--breaker", "1000", "--public-url", receiver.url)
    finally:
        sb.stop()
        receiver.stop()
        app.close()
        ledger.engine.dispose()
    assert result.json()["queued"] == 30  # the 500s came after the callbacks had proven every call
    assert all(r["state"] == "queued" and r["outcome_status"] for r in ledger_rows(job))


def test_redirects_are_never_followed(job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    sb = _sandbox()

    def elsewhere(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("302 Found", [("Location", sb.api_url + environ["PATH_INFO"].removeprefix("/api"))])
        return [b""]

    with HttpServer(elsewhere, port=0) as redirector:
        try:
            monkeypatch.setenv("BATCHQUEUE_BASE_URL", redirector.url + "/api")
            monkeypatch.setenv("BATCHQUEUE_USER", sb.config.user)
            monkeypatch.setenv("BATCHQUEUE_API_KEY", sb.config.key)
            result = run_cli("run", "1", *FAST)
            requests_seen = sb.app.store.requests
        finally:
            sb.stop()
    assert result.code == 3
    assert "redirect" in result.json()["message"]
    assert requests_seen == 0
    assert {r["state"] for r in ledger_rows(job)} == {"pending"}


def test_a_reply_with_a_call_id_is_queued_whatever_success_says(
    job: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scripted_insight(lambda path: b'{"success": 1, "call_id": 77}') as server:
        point_at_url(monkeypatch, server.url + "/api")
        result = run_cli("run", "1", *FAST)
    assert result.json()["queued"] == 30
    assert {(r["state"], r["call_id"]) for r in ledger_rows(job)} == {("queued", "77")}
    assert run_cli("retry", "1", "--json").json()["retried"] == 0


def test_sigterm_stops_like_a_first_ctrl_c(job: Path) -> None:
    sb = _sandbox(latency_after=0.3)
    try:
        proc = run_process(job, sandbox_env(sb), "--rate", "0", "--concurrency", "4", "--json")
        wait_until(lambda: sb.app.store.requests >= 4, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        sb.stop()
    assert proc.returncode == 130, err
    assert json.loads(out)["exit_reason"] == "interrupted"
    assert {r["state"] for r in ledger_rows(job)} <= {"queued", "pending"}  # in-flight rows were recorded


def test_a_second_ctrl_c_quits_at_once_and_leaves_in_flight_rows_uncertain(job: Path) -> None:
    sb = _sandbox(latency_after=5.0)
    try:
        proc = run_process(job, sandbox_env(sb), "--rate", "0", "--concurrency", "4")
        wait_until(lambda: sb.app.store.requests >= 4, proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        quit_after = time.monotonic() - started
        stranded = {r["phone_number"] for r in ledger_rows(job) if r["state"] == "sending"}
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert quit_after < 2.0  # the replies take 5 s: nothing was waited for
        assert len(stranded) >= 4  # the four in flight, and any claimed row still waiting for a worker
        sb.config.faults.latency_after = 0.0
        again = run_process(job, sandbox_env(sb), "--rate", "0", "--json")
        out, _ = again.communicate(timeout=60)
        phones = sandbox_phones(sb)
    finally:
        sb.stop()
    assert json.loads(out)["recovered_uncertain"] == len(stranded)
    states = {r["phone_number"]: r["state"] for r in ledger_rows(job)}
    assert {states[p] for p in stranded} == {"uncertain"}
    assert all(phones[p] <= 1 for p in stranded)  # never sent again
    assert sum(phones[p] for p in stranded) == 4
