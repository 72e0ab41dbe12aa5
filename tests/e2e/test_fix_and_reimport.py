"""The fix-and-reimport loop: the fix file's shape, what import makes of it, and what reaches Insight.

The property test at the end is the promise in its general form: whatever a cell holds, CSV
export → import gives it back unchanged (the formula neutralisation is undone exactly).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import Ledger, open_ledger
from batchqueue.reports.export import export_job
from batchqueue.sandbox import Sandbox, SandboxConfig
from tests.conftest import CliResult, write_csv
from tests.sandbox_helpers import ledger_rows, point_at

Run = Callable[..., CliResult]
IMPORT = ("--survey", "4242", "--instance", "1")
NOTES = ["@Jordan please review", "=1+1", "-5 points", "+ urgent", "'quoted already", "tab\tinside"]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _write_dicts(path: Path, rows: list[dict[str, str]]) -> None:
    """Save as a person would after fixing cells in a spreadsheet program: the same columns, re-quoted."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _original(tmp_path: Path) -> Path:
    rows: list[list[object]] = [["Name", "Phone", "Notes"]]
    rows += [[f"Person {i}", "555" if i % 2 else f"617555{i:04d}", note] for i, note in enumerate(NOTES)]
    return write_csv(tmp_path / "contacts.csv", rows)


def test_errors_out_and_export_as_input_write_one_shape(tmp_path: Path, run_cli: Run) -> None:
    src = _original(tmp_path)
    errors = tmp_path / "errors.csv"
    assert run_cli("check", src, "--errors-out", errors).code == 1
    assert run_cli("import", src, *IMPORT).code == 0
    as_input = tmp_path / "as_input.csv"
    assert run_cli("export", "1", "-o", as_input, "--as-input").code == 0
    from_check, from_export = _read(errors), _read(as_input)
    assert list(from_check[0]) == list(from_export[0]) == ["bq_row", "bq_reason", "Name", "Phone", "Notes"]
    assert from_check == from_export  # the same rows, reasons and values, wherever they come from
    assert [r["bq_row"] for r in from_check] == ["3", "5", "7"]
    assert all("column 'Phone'" in r["bq_reason"] for r in from_check)
    assert [r["Notes"] for r in from_check] == ["'=1+1", "'+ urgent", "tab\tinside"]  # formula-safe


def test_corrected_fix_file_imports_its_values_exactly_and_sends_them(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _original(tmp_path)
    assert run_cli("import", src, *IMPORT).code == 0
    fix = tmp_path / "fix.csv"
    assert run_cli("export", "1", "-o", fix, "--as-input", "--state", "invalid,pending").code == 0
    rows = _read(fix)
    for number, row in enumerate(rows):
        row["Phone"] = f"617555{number + 100:04d}"  # the operator corrects every phone
    _write_dicts(fix, rows)
    again = run_cli("import", fix, *IMPORT, "--json")
    assert again.code == 0, again.err
    data = again.json()
    assert (data["valid"], data["invalid"]) == (len(NOTES), 0)
    assert any("bq_row" in w and "bq_reason" in w for w in data["warnings"])  # said, and not read
    assert data["mapping"]["metadata"] == ["Name", "Notes"]
    stored = [json.loads(r["cells"])[2] for r in ledger_rows(tmp_path / "batchqueue.db", job_id=2)]
    assert stored == NOTES
    sandbox = Sandbox(SandboxConfig()).start()
    try:
        point_at(monkeypatch, sandbox)
        assert run_cli("run", "2", "--rate", "0", "--json").code == 0
        sent = sorted(call["metadata"]["Notes"] for call in sandbox.app.store.dump())
    finally:
        sandbox.stop()
    assert sent == sorted(NOTES)  # "@Jordan please review", never "'@Jordan please review"


#: NUL cannot be in a CSV; U+FFFE/U+FFFF are not characters, and an xlsx cannot hold them.
_UNWRITABLE = "\x00\ufffe\uffff"
_TEXT = st.characters(blacklist_categories=["Cs"], blacklist_characters=_UNWRITABLE)
_TRICKY_START = ["=", "+", "-", "@", "\t", "\r", "'", "''", "'=", "'+", "'-", "'@", "'\t", "'\r", "'''"]
_CELL = st.one_of(
    st.text(_TEXT, max_size=12), st.tuples(st.sampled_from(_TRICKY_START), st.text(_TEXT, max_size=6)).map("".join)
)


def _user_csv(path: Path, notes: list[str]) -> Path:
    """A contact list as a person's own program writes it: the cells as they are, nothing neutralised."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Phone", "Note"])
        writer.writerows([f"617555{i:04d}", note] for i, note in enumerate(notes))
    return path


def _user_xlsx(path: Path, notes: list[str]) -> Path:
    """The same list saved by openpyxl, every note a text cell (never a formula)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Phone", "Note"])
    for i, note in enumerate(notes):
        sheet.cell(i + 2, 1, f"617555{i:04d}")
        cell = sheet.cell(i + 2, 2)
        cell.value = note
        cell.data_type = "s"  # openpyxl would otherwise take "=..." for a formula
    book.save(path)
    return path


def _job_notes(ledger: Ledger, path: Path, instance: str) -> tuple[int, list[str]]:
    """``path`` imported as a new job: its id, and the notes the ledger holds."""
    done = import_file(ledger, path, MappingSpec(header_row=1), survey_id="1", instance_id=instance, new_job=True)
    assert done.job_id is not None
    rows = ledger.report_rows(done.job_id, states=None, outcomes=None)
    return done.job_id, [json.loads(r.cells)[1] for r in rows]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes=st.lists(_CELL, min_size=1, max_size=25))
def test_csv_and_xlsx_export_then_import_is_the_identity_on_every_cell(notes: list[str]) -> None:
    """For every cell s: the user's own file with s imports as s, and import(export(s)) == s for
    every export a person feeds back (the report and the fix file, CSV and xlsx)."""
    notes = [n for n in notes if n not in ("\\N", "NULL", "null")] or ["x"]  # NULL markers read as empty, by design
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ledger = open_ledger(f"sqlite:///{folder / 'l.db'}")
        try:
            job_id, stored = _job_notes(ledger, _user_csv(folder / "mine.csv", notes), "1")
            assert stored == notes  # a quote of the user's own stays
            # openpyxl refuses control characters, writes a blank cell without xml:space="preserve" and a
            # CR raw (XML reads it as LF): its own limits, not batchqueue's.
            writable = [n for n in notes if n.strip() and "\r" not in n and not ILLEGAL_CHARACTERS_RE.search(n)]
            legal = writable or ["x"]
            assert _job_notes(ledger, _user_xlsx(folder / "mine.xlsx", legal), "1")[1] == legal
            for fmt, as_input in (("csv", True), ("csv", False), ("xlsx", True), ("xlsx", False)):
                exported = folder / f"exported.{fmt}"
                export_job(ledger, job_id, exported, as_input=as_input, states={"pending", "duplicate"})
                assert _job_notes(ledger, exported, "2")[1] == notes, (fmt, as_input)
        finally:
            ledger.close()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_note_already_quoted_by_its_author_comes_back_as_written(tmp_path: Path, run_cli: Run, fmt: str) -> None:
    notes = ["'=already escaped", "'+1 555", "'quoted", "''", "'", "=1+1", "plain"]
    source = _user_csv(tmp_path / "c.csv", notes) if fmt == "csv" else _user_xlsx(tmp_path / "c.xlsx", notes)
    assert run_cli("import", source, *IMPORT).code == 0
    fix = tmp_path / f"fix.{fmt}"
    assert run_cli("export", "1", "-o", fix, "--as-input", "--state", "pending").code == 0
    assert run_cli("import", fix, *IMPORT).code == 0
    for job_id in (1, 2):
        assert [json.loads(r["cells"])[1] for r in ledger_rows(tmp_path / "batchqueue.db", job_id=job_id)] == notes
    if fmt == "csv":  # the fix file as a spreadsheet shows it: each note as written, after one added quote
        shown = ["''=already escaped", "''+1 555", "''quoted", "'''", "''", "'=1+1", "plain"]
        assert [r["Note"] for r in _read(fix)] == shown


def test_text_that_reads_as_excel_escapes_comes_back_as_written_from_an_xlsx_export(
    tmp_path: Path, run_cli: Run
) -> None:
    # ECMA-376 writes a character XML cannot hold as _xHHHH_, and an underscore that begins such text
    # as _x005F_. Two that share an underscore (_x005F_x0041_) must each be escaped, or the second is
    # read back as the character it names ('A').
    notes = ["_x0041_", "_x005F_x0041_", "_x0041_x0042_", "a__x0041__b", "_x005F_"]
    assert run_cli("import", _user_csv(tmp_path / "c.csv", notes), *IMPORT).code == 0
    report = tmp_path / "report.xlsx"
    assert run_cli("export", "1", "-o", report).code == 0
    assert run_cli("import", report, *IMPORT).code == 0
    assert [json.loads(r["cells"])[1] for r in ledger_rows(tmp_path / "batchqueue.db", job_id=2)] == notes
