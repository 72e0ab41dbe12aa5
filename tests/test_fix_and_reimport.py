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

from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.ledger import open_ledger
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
_TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters=_UNWRITABLE)
_TRICKY_START = ["=", "+", "-", "@", "\t", "\r", "'", "''", "'=", "'+", "'-", "'@", "'\t", "'\r", "'''"]
_CELL = st.one_of(
    st.text(_TEXT, max_size=12), st.tuples(st.sampled_from(_TRICKY_START), st.text(_TEXT, max_size=6)).map("".join)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes=st.lists(_CELL, min_size=1, max_size=25))
def test_csv_and_xlsx_export_then_import_is_the_identity_on_every_cell(notes: list[str]) -> None:
    notes = [n for n in notes if n not in ("\\N", "NULL", "null")] or ["x"]  # NULL markers read as empty, by design
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ledger = open_ledger(f"sqlite:///{folder / 'l.db'}")
        try:
            # The values enter the ledger through a file batchqueue itself wrote (an export), as in the loop.
            first = folder / "first.csv"
            with first.open("w", encoding="utf-8-sig", newline="") as f:
                from batchqueue.cell_safety import safe_row

                writer = csv.writer(f)
                writer.writerow(["Phone", "Note"])
                writer.writerows(safe_row([f"617555{i:04d}", note]) for i, note in enumerate(notes))
            one = import_file(ledger, first, MappingSpec(header_row=1), survey_id="1", instance_id="1")
            assert one.job_id is not None
            cells = [json.loads(r.cells)[1] for r in ledger.report_rows(one.job_id, states=None, outcomes=None)]
            assert cells == notes
            for fmt in ("csv", "xlsx"):
                exported = folder / f"exported.{fmt}"
                export_job(ledger, one.job_id, exported, as_input=True, states={"pending", "duplicate"})
                two = import_file(ledger, exported, MappingSpec(header_row=1), survey_id="1", instance_id="1")
                assert two.job_id is not None
                rows = ledger.report_rows(two.job_id, states=None, outcomes=None)
                assert [json.loads(r.cells)[1] for r in rows] == notes, fmt
        finally:
            ledger.close()
