"""A workbook whose first sheet is hidden opens, in a spreadsheet program, on its first visible sheet:
that is the list its owner sees and means, so it is the sheet ``check``, ``import`` and ``dnc
import`` read when no ``--sheet`` is given. A hidden sheet (an old list kept out of sight, a lookup
table) is read only when named.

The workbooks are written with openpyxl, which marks a sheet hidden as Excel does (ECMA-376
``<sheet state="hidden"/>`` or ``"veryHidden"``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import CliResult
from tests.sandbox_helpers import ledger_rows
from tests.workbook_makers import xlsb_file

Run = Callable[..., CliResult]

OLD = ["6175550100", "6175550101"]  # the hidden sheet: an old list nobody means to call
CURRENT = ["6175550190", "6175550191", "6175550192"]


def _book(path: Path, state: str, *, padding: int = 0) -> Path:
    """A workbook whose first sheet ('Old') is hidden in ``state``; the second ('Current') is visible.
    ``padding``: that many more rows of random notes in each sheet (a workbook past the size that an
    import reads in its helper process), numbered so as to be invalid."""
    book = Workbook()
    old = book.active
    assert old is not None
    old.title = "Old"
    old.append(["Phone", "Note"])
    for number in OLD:
        old.append([number, "old"])
    old.sheet_state = state  # type: ignore[assignment]
    current = book.create_sheet("Current")
    current.append(["Phone", "Note"])
    for number in CURRENT:
        current.append([number, "current"])
    for sheet in (old, current):
        for _ in range(padding):
            sheet.append(["12", secrets.token_hex(48)])
    book.active = 1
    book.save(path)
    return path


def _called(db: Path, job_id: int = 1) -> set[str]:
    return {r["e164"] for r in ledger_rows(db, job_id) if r["state"] == "pending"}


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_the_first_visible_sheet_is_read_unless_a_hidden_one_is_named(tmp_path: Path, run_cli: Run, state: str) -> None:
    path = _book(tmp_path / "list.xlsx", state)
    db = tmp_path / "l.db"
    checked = run_cli("check", path)
    assert "sheet 'Current'" in checked.out, checked.out
    assert "hidden sheet(s) 'Old' not read" in checked.err  # said, so that a list kept hidden is not missed
    imported = run_cli("import", path, "--survey", "1", "--instance", "1", "--db", db, "--json")
    assert imported.code == 0, imported.err
    assert _called(db) == {"+1" + n for n in CURRENT}
    listing = run_cli("dnc", "import", path, "--list", "optouts", "--db", db, "--json")
    assert listing.code == 0, listing.err
    assert listing.json()["read"]["sheet"] == "Current"
    named = run_cli("import", path, "--sheet", "Old", "--survey", "1", "--instance", "2", "--db", db, "--json")
    assert named.code == 0, named.err
    assert _called(db, named.json()["job_id"]) == {"+1" + n for n in OLD}


def test_an_import_read_by_its_helper_process_reads_the_visible_sheet_too(tmp_path: Path, run_cli: Run) -> None:
    path = _book(tmp_path / "big.xlsx", "hidden", padding=12_000)
    assert path.stat().st_size > 1024 * 1024  # read by the import's helper process
    db = tmp_path / "l.db"
    imported = run_cli("import", path, "--survey", "1", "--instance", "1", "--db", db, "--json")
    assert imported.json()["valid"] == len(CURRENT), imported.out + imported.err
    assert _called(db) == {"+1" + n for n in CURRENT}


def test_an_xlsb_is_read_from_its_first_visible_sheet_too(tmp_path: Path, run_cli: Run) -> None:
    # [MS-XLSB] BrtBundleSh: hsState 1 is a hidden sheet. The sheet counted before loading and the
    # sheet read are the same one.
    old = [(0, 0, "Phone")] + [(i + 1, 0, float(n)) for i, n in enumerate(OLD)]
    current = [(0, 0, "Phone")] + [(i + 1, 0, float(n)) for i, n in enumerate(CURRENT)]
    path = xlsb_file(tmp_path / "list.xlsb", current, hidden_first=old)
    db = tmp_path / "l.db"
    imported = run_cli("import", path, "--survey", "1", "--instance", "1", "--db", db, "--json")
    assert imported.code == 0, imported.err
    assert _called(db) == {"+1" + n for n in CURRENT}
    named = run_cli("check", path, "--sheet", "Old", "--json")
    assert (named.json()["sheet"], named.json()["valid"]) == ("Old", len(OLD))
