"""Holds explained end to end: a job whose rows wait for different reasons says each one, with when
the first of each may be tried, in ``run``, ``status`` (text and --json), the report (CSV, xlsx,
JSON: ``bq_hold_reason``) and the console (its API and its job page). Real sandbox over 127.0.0.1,
a real SQLite ledger shared by the command line and a running console.

Truth: Oklahoma's cap is the statute's (``tests/truth/statutes.py``); Oklahoma City's zone is the
Central zone of 49 CFR 71.7; the hours are this test's own: the hour Oklahoma City's clock is in now.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from tests.conftest import CliResult, write_csv
from tests.console_helpers import api_session, start_console, stop_console
from tests.sandbox_helpers import point_at
from tests.truth.statutes import CAP_BY_STATE

Run = Callable[..., CliResult]
OK_CALLS, _ = CAP_BY_STATE["OK"]
#: Oklahoma City's area code (405), in the Central zone (49 CFR 71.7); only the Panhandle's
#: Kenton, in 580, keeps Mountain time unofficially.
OKLAHOMA_NUMBER = "(405) 201-0007"
#: Contacts whose every source says UTC: Reykjavik's numbers (Iceland keeps UTC all year) with a
#: "UTC" zone cell, so the window this test sets is theirs wherever batchqueue looks.
ICELAND = "+354 511 01{:02d}"


#: This test's hours are its own, whatever the time of day it runs: outside the federal 08:00-21:00
#: knowingly, and without the states' own hours (Oklahoma's cap is a state cap, not a state rule).
ANY_HOUR = ("--outside-federal-hours", "--state-rules", "none")


def _by_phone(records: list[dict[str, str]]) -> dict[str, str]:
    # The CSV report quotes a cell that begins with "+" (formula safety): the number is the same.
    return {r["phone"].removeprefix("'"): r["bq_hold_reason"] for r in records}


def test_a_job_held_for_different_reasons_says_why_each_row_waits(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = dt.datetime.now(dt.UTC)
    # The run's hours hold the hour Oklahoma City's clock is in now (and the next): the Oklahoma
    # contact may be called now, only its state's cap stands in the way; in Reykjavik (UTC, 5 or 6
    # hours ahead of Central time) those hours are still to come.
    local_hour = now.astimezone(ZoneInfo("America/Chicago")).hour
    hours = f"{local_hour:02d}:00-{min(local_hour + 2, 24):02d}:00"
    opens = now.replace(hour=local_hour, minute=0, second=0, microsecond=0)
    if opens <= now:
        opens += dt.timedelta(days=1)
    own_start = opens + dt.timedelta(days=1, minutes=10)  # inside a later day's hour: its own start decides
    running = start_console(tmp_path)
    try:
        point_at(monkeypatch, running.sandbox)
        db = tmp_path / "console.db"
        # Job 1 calls the Oklahoma number as many times as Oklahoma allows in its period.
        first = write_csv(tmp_path / "a.csv", [["phone"], [OKLAHOMA_NUMBER]])
        assert run_cli("import", first, "--survey", "4242", "--instance", "1", "--calling-hours", "00:00-24:00",
                       *ANY_HOUR, "--max-attempts", str(OK_CALLS), "--reattempt-wait", "600",
                       "--db", db).code == 0  # fmt: skip
        assert run_cli("run", "1", "--rate", "0", "--db", db).code == 0
        # Job 2: three contacts outside the hour, one whose own start is a day later, and the same
        # Oklahoma number (re-contact protection off: only the state's cap stands in the way).
        rows = [["phone", "Time Zone", "start"]]
        rows += [[ICELAND.format(n), "UTC", ""] for n in range(3)]
        rows += [[ICELAND.format(99), "UTC", f"{own_start:%Y-%m-%d %H:%M}"], [OKLAHOMA_NUMBER, "", ""]]
        assert run_cli("import", write_csv(tmp_path / "b.csv", rows), "--survey", "4242", "--instance", "1",
                       "--recontact-after", "0", "--calling-hours", "00:00-24:00", *ANY_HOUR,
                       "--db", db).code == 0  # fmt: skip

        run_hours = ("--calling-hours", hours, "--outside-federal-hours", "--hold-until-window")
        # A dry run finds the same holds, and changes nothing.
        dry = run_cli("run", "2", "--dry-run", *run_hours, "--db", db, "--json")
        assert dry.code == 0, dry.err
        assert {g["reason"]: g["rows"] for g in dry.json()["holds"]} == {
            "calling_window": 3,
            "own_start": 1,
            "state_cap": 1,
        }
        assert run_cli("status", "2", "--db", db, "--json").json()["holds"] == []
        sent = run_cli("run", "2", "--rate", "0", *run_hours, "--db", db)
        assert sent.code == 0, sent.err
        window = f"opens {opens:%Y-%m-%d %H:%M} UTC"
        starts = f"starts {own_start:%Y-%m-%d %H:%M} UTC"
        said = (
            f"5 held: 3 outside their calling window (next: {window}), "
            f"1 waiting for its own start time (next: {starts}), 1 at a state's cap on calls (next: OK allows "
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
        assert f"OK allows {OK_CALLS} calls" in holds["state_cap"]["detail"]
        assert (status["held"], status["next_window_at"]) == (5, opens.timestamp())
        assert said in " ".join(run_cli("status", "2", "--db", db).out.split())

        # The report says it on each held row, in every format.
        wanted = {
            **{ICELAND.format(n): f"outside its calling window: {window}" for n in range(3)},
            ICELAND.format(99): f"waiting for its own start time: {starts}",
        }
        as_csv = _by_phone(list(csv.DictReader(io.StringIO(run_cli("export", "2", "-o", "-", "--db", db).out))))
        as_csv_oklahoma = as_csv.pop(OKLAHOMA_NUMBER)
        assert as_csv_oklahoma.startswith(f"at a state's cap on calls: OK allows {OK_CALLS} calls")
        assert as_csv == wanted
        as_json = run_cli("export", "2", "-o", "-", "--format", "json", "--db", db).json()
        assert _by_phone(as_json["rows"]) == {**wanted, OKLAHOMA_NUMBER: as_csv_oklahoma}
        book = tmp_path / "r.xlsx"
        assert run_cli("export", "2", "-o", str(book), "--db", db).code == 0
        sheet = openpyxl.load_workbook(book)["Report"]
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        cells = [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)]
        assert {r["phone"]: r["bq_hold_reason"] for r in cells}[ICELAND.format(0)] == wanted[ICELAND.format(0)]
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
