"""Holds explained end to end: a job whose rows wait for different reasons says each one, with when
the first of each may be tried, in ``run``, ``status`` (text and --json), the report (CSV, xlsx,
JSON: ``bq_hold_reason``) and the console (its API and its job page). Real sandbox over 127.0.0.1,
a real SQLite ledger shared by the command line and a running console.

Truth: Florida's cap is the statute's (``tests/truth/statutes.py``), Pensacola's area code the
hand-checked geography's; the hours are this test's own, set two hours ahead of now in UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import CliResult, write_csv
from tests.console_helpers import api_session, start_console, stop_console
from tests.sandbox_helpers import point_at
from tests.truth.geography import PLACES
from tests.truth.statutes import CAP_BY_STATE

Run = Callable[..., CliResult]
FL_CALLS, _ = CAP_BY_STATE["FL"]
FLORIDA_NUMBER = f"({PLACES['Pensacola, FL'].area_codes[0]}) 201-0007"
#: The Florida contact's clock runs two hours ahead of UTC: inside the run's one hour when the UTC
#: contacts are still two hours before it.
AHEAD = "UTC+02:00"


def _by_phone(records: list[dict[str, str]]) -> dict[str, str]:
    return {r["phone"]: r["bq_hold_reason"] for r in records}


def test_a_job_held_for_different_reasons_says_why_each_row_waits(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = dt.datetime.now(dt.UTC)
    opens = (now + dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    hours = f"{opens.hour:02d}:00-{opens.hour + 1:02d}:00"
    own_start = opens + dt.timedelta(days=1, minutes=10)  # inside a later day's hour: its own start decides
    running = start_console(tmp_path)
    try:
        point_at(monkeypatch, running.sandbox)
        db = tmp_path / "console.db"
        # Job 1 calls the Florida number as many times as Florida allows in its period.
        first = write_csv(tmp_path / "a.csv", [["phone", "Time Zone"], [FLORIDA_NUMBER, AHEAD]])
        assert run_cli("import", first, "--survey", "4242", "--instance", "1", "--calling-hours", "00:00-24:00",
                       "--max-attempts", str(FL_CALLS), "--reattempt-wait", "600", "--db", db).code == 0  # fmt: skip
        assert run_cli("run", "1", "--rate", "0", "--db", db).code == 0
        # Job 2: three contacts outside the hour, one whose own start is a day later, and the same
        # Florida number (re-contact protection off: only the state's cap stands in the way).
        rows = [["phone", "Time Zone", "start"]]
        rows += [[f"617-555-01{n:02d}", "UTC", ""] for n in range(3)]
        rows += [["617-555-0199", "UTC", f"{own_start:%Y-%m-%d %H:%M}"], [FLORIDA_NUMBER, AHEAD, ""]]
        assert run_cli("import", write_csv(tmp_path / "b.csv", rows), "--survey", "4242", "--instance", "1",
                       "--recontact-after", "0", "--db", db).code == 0  # fmt: skip

        # A dry run finds the same holds, and changes nothing.
        dry = run_cli("run", "2", "--dry-run", "--calling-hours", hours, "--hold-until-window", "--db", db, "--json")
        assert dry.code == 0, dry.err
        assert {g["reason"]: g["rows"] for g in dry.json()["holds"]} == {
            "calling_window": 3,
            "own_start": 1,
            "state_cap": 1,
        }
        assert run_cli("status", "2", "--db", db, "--json").json()["holds"] == []
        sent = run_cli("run", "2", "--rate", "0", "--calling-hours", hours, "--hold-until-window", "--db", db)
        assert sent.code == 0, sent.err
        window = f"opens {opens:%Y-%m-%d %H:%M} UTC"
        starts = f"starts {own_start:%Y-%m-%d %H:%M} UTC"
        said = (
            f"5 held: 3 outside their calling window (next: {window}), "
            f"1 waiting for its own start time (next: {starts}), 1 at a state's cap on calls (next: FL allows "
        )
        assert said in sent.err

        status = run_cli("status", "2", "--db", db, "--json").json()
        holds = {g["reason"]: g for g in status["holds"]}
        assert {reason: g["rows"] for reason, g in holds.items()} == {
            "calling_window": 3,
            "own_start": 1,
            "state_cap": 1,
        }
        assert (holds["calling_window"]["detail"], holds["calling_window"]["next_at"]) == (window, opens.timestamp())
        assert (holds["own_start"]["detail"], holds["own_start"]["next_at"]) == (starts, own_start.timestamp())
        assert f"FL allows {FL_CALLS} calls" in holds["state_cap"]["detail"]
        assert (status["held"], status["next_window_at"]) == (5, opens.timestamp())
        assert said in " ".join(run_cli("status", "2", "--db", db).out.split())

        # The report says it on each held row, in every format.
        wanted = {
            **{f"617-555-01{n:02d}": f"outside its calling window: {window}" for n in range(3)},
            "617-555-0199": f"waiting for its own start time: {starts}",
        }
        as_csv = _by_phone(list(csv.DictReader(io.StringIO(run_cli("export", "2", "-o", "-", "--db", db).out))))
        as_csv_florida = as_csv.pop(FLORIDA_NUMBER)
        assert as_csv_florida.startswith(f"at a state's cap on calls: FL allows {FL_CALLS} calls")
        assert as_csv == wanted
        as_json = run_cli("export", "2", "-o", "-", "--format", "json", "--db", db).json()
        assert _by_phone(as_json["rows"]) == {**wanted, FLORIDA_NUMBER: as_csv_florida}
        book = tmp_path / "r.xlsx"
        assert run_cli("export", "2", "-o", str(book), "--db", db).code == 0
        sheet = openpyxl.load_workbook(book)["Report"]
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        cells = [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)]
        assert {r["phone"]: r["bq_hold_reason"] for r in cells}["617-555-0100"] == wanted["617-555-0100"]
        # Job 1's row was sent: nothing held, nothing said.
        first_report = list(csv.DictReader(io.StringIO(run_cli("export", "1", "-o", "-", "--db", db).out)))
        assert [r["bq_hold_reason"] for r in first_report] == [""]

        # The console: its API and its job page.
        session, _ = api_session(running.url)
        job = session.get(running.url + "/api/jobs/2", timeout=10).json()
        assert {g["reason"]: g["rows"] for g in job["holds"]} == {"calling_window": 3, "own_start": 1, "state_cap": 1}
        assert job["holds_said"].startswith(said)
        page = session.get(running.url + "/jobs/2", timeout=10).text
        for reason in ("calling_window", "own_start", "state_cap"):
            assert f'data-reason="{reason}"' in page
        assert f"3 outside their calling window (next: {window})" in page
    finally:
        stop_console(running)


def test_a_run_waiting_for_its_held_rows_says_why_they_wait(caplog: pytest.LogCaptureFixture) -> None:
    from contextlib import ExitStack

    from batchqueue.cli.run_cmds import _RunBar
    from batchqueue.holds import Holds

    holds = Holds.of([("holiday", 4, 1000.0, "Christmas Day (US), 2026-12-25; opens 2026-12-26 08:00 America/Chicago")])
    caplog.set_level("INFO", logger="batchqueue.run")
    with ExitStack() as stack:
        _RunBar(stack, show=False).waiting(3 * 3600 + 60, holds)  # not a terminal: a log line
    assert "waiting 3h01m: 4 held: 4 on a public holiday (next: Christmas Day (US), 2026-12-25; opens" in caplog.text
