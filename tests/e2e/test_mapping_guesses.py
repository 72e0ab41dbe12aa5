"""The default mapping keeps call instructions: extension, call-after and end columns, attempts and the
caller id are found by the names real CRM and dialer exports give them; each guess is shown with its
header and undone by one flag; a date column's day/month order is read from the whole column.

Truth for the names: the exports themselves. Salesforce and HubSpot write a phone's extension in a
column of its own (``Ext``, ``Phone Ext.``, ``Extension``; Microsoft Dynamics ``Extension No.``), and
address books and printed lists write ``x`` (``617-555-0102 x204``: an ``x`` column in a split
export); Five9 lists carry the time to call (``time2call``, "Time To Call"), lead forms "Best Time to
Call", CRM reports "Call After", "Callback Date/Time" and "Start Date/Time"; Genesys and Five9 lists
have "Max Attempts" and a "Caller ID" per record.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from batchqueue.intake.mapping.resolve import resolve
from batchqueue.intake.mapping.spec import MappingSpec
from tests.conftest import CliResult, write_csv

Run = Callable[..., CliResult]
NOW = int(time.time())
NEXT_YEAR = dt.date.today().year + 1


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Ext.", "postd"),
        ("Ext", "postd"),
        ("Extension", "postd"),
        ("x", "postd"),
        ("Phone Ext.", "postd"),
        ("Phone Extension", "postd"),
        ("Extension No.", "postd"),
        ("Call After", "start"),
        ("Best Time to Call", "start"),
        ("Time To Call", "start"),
        ("time2call", "start"),
        ("Start Date/Time", "start"),
        ("Callback Date/Time", "start"),
        ("Call Before", "end"),
        ("End Date/Time", "end"),
        ("Max Attempts", "max_attempts"),
        ("Max Tries", "max_attempts"),
        ("Caller ID", "ani"),
        ("Outbound Caller ID", "ani"),
        ("Reattempt Wait", "reattempt_wait"),
    ],
)
def test_request_fields_are_found_by_the_names_exports_give_them(header: str, field: str) -> None:
    mapping = resolve(MappingSpec(), ["First Name", "Phone", header], now=NOW)
    assert mapping.columns == {field: header}
    assert header not in mapping.metadata
    assert [(g.field, g.column) for g in mapping.guesses] == [(field, header)]


def test_a_column_that_only_resembles_one_is_left_as_metadata() -> None:
    # "Attempts" in an export is the history (attempts made), "Do Not Call" a flag: neither is guessed.
    mapping = resolve(MappingSpec(), ["Phone", "Attempts", "Do Not Call", "Extended Notes"], now=NOW)
    assert mapping.columns == {}
    assert mapping.metadata == ("Attempts", "Do Not Call", "Extended Notes")


def test_one_flag_undoes_a_guess_and_the_column_goes_back_to_metadata() -> None:
    mapping = resolve(MappingSpec(columns={"postd": "none"}), ["Phone", "Ext.", "Call After"], now=NOW)
    assert mapping.columns == {"start": "Call After"}
    assert mapping.metadata == ("Ext.",)


def test_two_extension_columns_are_not_guessed_and_the_warning_names_both() -> None:
    mapping = resolve(MappingSpec(), ["Phone", "Work Ext", "Phone Ext"], now=NOW)
    assert "postd" not in mapping.columns
    assert mapping.warnings == (
        "columns 'Work Ext' and 'Phone Ext' could each be postd (the extension dialled after the call connects); "
        "neither was taken: choose one with --column postd=COLUMN",
    )


def _csv(tmp_path: Path, header: list[str], rows: Sequence[Sequence[object]]) -> Path:
    return write_csv(tmp_path / "contacts.csv", [header, *rows])


def test_check_says_what_was_guessed_from_which_header_and_how_to_undo_it(tmp_path: Path, run_cli: Run) -> None:
    path = _csv(tmp_path, ["Name", "Phone", "Ext.", "Call After"], [["Ana", "617-555-0101", "204", ""]])
    shown = run_cli("check", path)
    assert shown.code == 0, shown.err
    assert (
        "guessed from its name: column 'Ext.' → postd (the extension dialled after the call connects); "
        "undo: --column postd=none"
    ) in shown.out
    assert (
        "guessed from its name: column 'Call After' → start (the earliest time to call); undo: --column start=none"
    ) in shown.out
    data = run_cli("check", path, "--json").json()
    assert data["guesses"] == [
        {"field": "postd", "column": "Ext.", "undo": "--column postd=none"},
        {"field": "start", "column": "Call After", "undo": "--column start=none"},
    ]
    undone = run_cli("check", path, "--column", "postd=none", "--json").json()
    assert undone["mapping"]["columns"] == {"start": "Call After"}
    assert "Ext." in undone["mapping"]["metadata"]


@pytest.mark.parametrize("cell", ["204", "x204", "X 204", "ext. 204", "Ext 204", "extension 204", "204.0"])
def test_an_extension_is_read_however_the_export_wrote_it(tmp_path: Path, run_cli: Run, cell: str) -> None:
    path = _csv(tmp_path, ["Phone", "Ext."], [["617-555-0101", cell]])
    result = run_cli("import", path, "--survey", "1", "--instance", "1", "--json")
    assert result.code == 0, result.err
    assert result.json()["valid"] == 1
    from tests.sandbox_helpers import ledger_rows

    assert ledger_rows(tmp_path / "batchqueue.db")[0]["phone_number"] == "tel:+16175550101;postd=204"


def _stamp(text: str, zone: str = "UTC") -> int:
    return int(dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone)).timestamp())


def test_day_month_order_is_read_from_the_whole_column_and_said(tmp_path: Path, run_cli: Run) -> None:
    rows = [
        ["617-555-0101", f"12/03/{NEXT_YEAR} 09:00"],  # either order could read it alone
        ["617-555-0102", f"04/05/{NEXT_YEAR} 10:30"],
        ["617-555-0103", f"16/12/{NEXT_YEAR} 17:00"],  # only day/month reads it: it decides the column
    ]
    path = _csv(tmp_path, ["Phone", "Call After"], rows)
    shown = run_cli("check", path)
    assert shown.code == 0, shown.out + shown.err
    assert (
        f"dates in column 'Call After' read day/month/year, as row 4 shows ('16/12/{NEXT_YEAR} 17:00' can only "
        "be day/month); 2 value(s) either order could read are read that way too"
    ) in shown.out
    assert run_cli("import", path, "--survey", "1", "--instance", "1").code == 0
    from tests.sandbox_helpers import ledger_rows

    starts = [r["start_ts"] for r in ledger_rows(tmp_path / "batchqueue.db")]
    assert starts == [
        _stamp(f"{NEXT_YEAR}-03-12 09:00"),
        _stamp(f"{NEXT_YEAR}-05-04 10:30"),
        _stamp(f"{NEXT_YEAR}-12-16 17:00"),
    ]


def test_a_month_first_column_is_read_month_first(tmp_path: Path, run_cli: Run) -> None:
    rows = [["617-555-0101", f"12/03/{NEXT_YEAR} 9:00 AM"], ["617-555-0102", f"12/16/{NEXT_YEAR} 5:00 PM"]]
    path = _csv(tmp_path, ["Phone", "Call After"], rows)
    assert run_cli("import", path, "--survey", "1", "--instance", "1").code == 0
    from tests.sandbox_helpers import ledger_rows

    starts = [r["start_ts"] for r in ledger_rows(tmp_path / "batchqueue.db")]
    assert starts == [_stamp(f"{NEXT_YEAR}-12-03 09:00"), _stamp(f"{NEXT_YEAR}-12-16 17:00")]


@pytest.mark.parametrize("cell", ["ASAP", "asap", "Now", "  now ", "", "immediately"])
def test_asap_now_and_empty_mean_no_start(tmp_path: Path, run_cli: Run, cell: str) -> None:
    path = _csv(tmp_path, ["Phone", "Call After"], [["617-555-0101", cell], ["617-555-0102", f"2/3/{NEXT_YEAR}"]])
    result = run_cli("import", path, "--survey", "1", "--instance", "1", "--dayfirst", "--json")
    assert result.code == 0, result.out + result.err
    assert result.json()["valid"] == 2
    from tests.sandbox_helpers import ledger_rows

    assert ledger_rows(tmp_path / "batchqueue.db")[0]["start_ts"] is None


def test_a_truly_ambiguous_column_is_reported_once_not_per_row(tmp_path: Path, run_cli: Run) -> None:
    rows = [[f"617-555-01{i:02d}", f"0{1 + i % 9}/1{i % 3}/{NEXT_YEAR} 10:00"] for i in range(30)]
    path = _csv(tmp_path, ["Phone", "Call After"], rows)
    result = run_cli("check", path)
    assert result.code == 2
    assert result.err.strip() == (
        f"error: column 'Call After': 30 date(s) such as '01/10/{NEXT_YEAR} 10:00' (row 2) read as day/month or "
        "month/day, and no value in the column decides; say --dayfirst or --monthfirst"
    )
    assert run_cli("check", path, "--dayfirst", "--json").json()["valid"] == 30
    assert run_cli("check", path, "--monthfirst", "--json").json()["valid"] == 30


def test_a_guessed_column_that_holds_no_dates_is_refused_once_with_the_flags_that_fix_it(
    tmp_path: Path, run_cli: Run
) -> None:
    rows = [["617-555-0101", "Morning"], ["617-555-0102", "Evening"], ["617-555-0103", "after 5pm"]]
    path = _csv(tmp_path, ["Phone", "Best Time to Call"], rows)
    result = run_cli("check", path)
    assert result.code == 2
    assert result.err.strip() == (
        "error: column 'Best Time to Call' was taken as start (the earliest time to call) from its name, but 3 of "
        "its 3 values are not that (row 2: 'Morning' is not a date-time batchqueue can read); name the right "
        "column with --column start=COLUMN, or --column start=none to send it as metadata"
    )
    undone = run_cli("check", path, "--column", "start=none", "--json")
    assert undone.code == 0
    assert undone.json()["valid"] == 3


def test_the_campaign_export_keeps_every_extension_and_call_after_date(tmp_path: Path, run_cli: Run) -> None:
    from tests import realistic_files as files

    truth = files.crm_campaign_workbook(tmp_path / "campaign.xlsx", dt.datetime.now(dt.UTC))
    data = run_cli("check", tmp_path / "campaign.xlsx", "--json").json()
    assert data["mapping"]["columns"] == {"postd": "Ext.", "start": "Call After"}
    assert (data["valid"], data["invalid"]) == (files.CAMPAIGN_VALID, files.CAMPAIGN_INVALID)
    assert len(truth) == files.CAMPAIGN_VALID


def test_the_validating_helper_process_reads_the_column_order_as_this_process_does(tmp_path: Path) -> None:
    from batchqueue.errors import UsageError
    from batchqueue.intake.importer import import_file
    from batchqueue.ledger import open_ledger
    from tests.sandbox_helpers import ledger_rows

    rows = [["617-555-0101", f"12/03/{NEXT_YEAR} 09:00", "x7"], ["617-555-0102", f"16/12/{NEXT_YEAR} 17:00", ""]]
    path = _csv(tmp_path, ["Phone", "Call After", "Ext."], rows)
    ledger = open_ledger(f"sqlite:///{tmp_path / 'helped.db'}")
    try:
        result = import_file(ledger, path, MappingSpec(), survey_id="1", instance_id="1", parallel=True)
        assert (result.valid, result.invalid) == (2, 0)
        assert result.notes[0].startswith("dates in column 'Call After' read day/month/year, as row 3 shows")
        ambiguous = _csv(tmp_path, ["Phone", "Call After"], [["617-555-0101", f"12/03/{NEXT_YEAR}"]])
        with pytest.raises(UsageError, match=r"^column 'Call After': 1 date\(s\) such as"):
            import_file(ledger, ambiguous, MappingSpec(), survey_id="1", instance_id="1", parallel=True)
    finally:
        ledger.close()
    stored = ledger_rows(tmp_path / "helped.db")
    assert [r["start_ts"] for r in stored] == [_stamp(f"{NEXT_YEAR}-03-12 09:00"), _stamp(f"{NEXT_YEAR}-12-16 17:00")]
    assert stored[0]["phone_number"] == "tel:+16175550101;postd=7"
