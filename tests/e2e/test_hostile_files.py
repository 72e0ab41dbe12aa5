"""Hostile and unlucky input files: absurd sheets, huge sheets, files that change or never end."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import python_calamine as calamine
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from batchqueue.errors import InputFileError
from batchqueue.intake.importer import import_file
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.sheets import census_xml
from batchqueue.intake.sheets.cells import cell_text
from batchqueue.intake.sheets.census_xml import count_xlsx_sheet
from batchqueue.intake.sheets.headers import column_letter
from batchqueue.intake.sheets.xlsx_parts import SharedStrings, date_styles, read_workbook
from batchqueue.intake.sheets.xlsx_stream import stream_rows
from batchqueue.intake.validator_process import Validation
from batchqueue.ledger import open_ledger
from batchqueue.reports.xlsx_writer import XlsxWriter
from tests.conftest import CliResult, write_csv
from tests.conftest import check_in_a_child as _check_in_a_child
from tests.sandbox_helpers import contacts

Run = Callable[..., CliResult]

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_BOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
    'main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="Contacts" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_BOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def raw_xlsx(path: Path, sheet_data: str, dimension: str | None = None) -> Path:
    """A minimal, valid xlsx whose sheet XML is exactly what the test says."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        f'2006/main">{dim}<sheetData>{sheet_data}</sheetData></worksheet>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _BOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>6175550101</t></is></c><c r="B2" t="inlineStr"><is><t>Ann</t></is>'
    "</c></row>"
)


@pytest.mark.parametrize(
    ("stray", "where"), [("XFD1048576", "1,048,576 rows × 16,384 columns"), ("ALL150000", "150,000 rows × 1,000")]
)
def test_a_stray_cell_far_away_is_refused_before_loading(tmp_path: Path, stray: str, where: str) -> None:
    row = stray.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    path = raw_xlsx(tmp_path / "stray.xlsx", HEADER_ROW + f'<row r="{row}"><c r="{stray}"><v>1</v></c></row>')
    assert path.stat().st_size < 5000
    done, _ = _check_in_a_child(path)
    assert done.returncode == 2, done.stderr
    assert where in done.stderr
    assert "stray cell" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("space", [" ", "\t", "\n"])
def test_a_cell_beyond_its_row_is_seen_too(tmp_path: Path, space: str) -> None:
    """The reference decides where calamine puts a cell, whatever row element it sits in, and
    whatever whitespace comes before its r= (the scan's fast search looks for a space only)."""
    path = raw_xlsx(tmp_path / "liar.xlsx", HEADER_ROW.replace(' r="B2"', f'{space}r="XFD1048576"'))
    done, _ = _check_in_a_child(path)
    assert done.returncode == 2, done.stderr
    assert "stray cell" in done.stderr


_QUIRKS = [
    "",  # most rows: in order, every cell with its reference first
    "stray",  # a cell far below, inside an ordinary row
    "back",  # a row lower than the one before
    "unreferenced",  # a cell without r=
    "late-r",  # an attribute before r=
    "tab",  # a tab before r=
    "zeros",  # a reference with leading zeros
    "lower",  # a reference in lower case
    "quotes",  # single quotes
    "empty-row",  # a row element with no cells, far below
    "unreferenced-below",  # a row far below whose only cell has no r=
]


@settings(max_examples=150, deadline=None)
@given(
    quirks=st.lists(st.tuples(st.integers(0, 400), st.sampled_from(_QUIRKS)), max_size=6),
    width=st.integers(1, 40),
    chunk=st.sampled_from([97, 512, 4096]),
)
def test_the_census_finds_the_extent_the_sheet_really_has(
    quirks: list[tuple[int, str]], width: int, chunk: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every cell is placed where its reference (or, without one, its row and the cell before)
    puts it; the census must find the farthest row and column of them all, and count them."""
    at = dict(quirks)
    parts = []
    row = 0
    farthest_row = farthest_col = cells = 0

    def place(r: int, c: int) -> None:
        nonlocal farthest_row, farthest_col, cells
        farthest_row, farthest_col, cells = max(farthest_row, r), max(farthest_col, c), cells + 1

    for i in range(400):
        quirk = at.get(i, "")
        row = row - 3 if quirk == "back" and row > 3 else row + 1
        cells_xml = []
        for c in range(1, width + 1):
            cells_xml.append(f'<c r="{column_letter(c - 1)}{row}"><v>{c}</v></c>')
            place(row, c)
        if quirk == "stray":
            cells_xml.append(f'<c r="{column_letter(width + 4)}{row + 90_000}"><v>1</v></c>')
            place(row + 90_000, width + 5)
        elif quirk == "unreferenced":
            cells_xml.append("<c><v>2</v></c>")
            place(row, width + 1)
        elif quirk == "late-r":
            cells_xml[0] = f'<c t="n" r="{column_letter(width + 1)}{row + 500}"><v>3</v></c>'
            place(row + 500, width + 2)
            cells -= 1  # it took the place of the row's first cell
        elif quirk == "tab":
            cells_xml[0] = f'<c\tr="A{row + 700}"><v>4</v></c>'
            place(row + 700, 1)
            cells -= 1
        elif quirk == "zeros":
            cells_xml[-1] = f'<c r="{column_letter(width - 1)}00{row}"><v>5</v></c>'
        elif quirk == "lower":
            cells_xml.append(f'<c r="{column_letter(width + 9).lower()}{row}"><v>7</v></c>')
            place(row, width + 10)
        elif quirk == "quotes":
            cells_xml.append(f"<c r='{column_letter(width + 2)}{row + 30}'><v>8</v></c>")
            place(row + 30, width + 3)
        parts.append(f'<row r="{row}">{"".join(cells_xml)}</row>')
        if quirk == "empty-row":
            parts.append(f'<row r="{row + 40_000}"/>')
            farthest_row = max(farthest_row, row + 40_000)
        elif quirk == "unreferenced-below":
            parts.append(f'<row r="{row + 60_000}"><c><v>6</v></c></row>')
            place(row + 60_000, 1)
    path = raw_xlsx(tmp_path_factory.mktemp("scan") / "s.xlsx", "".join(parts))
    with zipfile.ZipFile(path) as zf, pytest.MonkeyPatch.context() as patch:
        patch.setattr(census_xml, "_CHUNK", chunk)  # many chunk edges
        census, _ = count_xlsx_sheet(zf, "xl/worksheets/sheet1.xml", stop_after=10**7)
    assert (census.cells, census.rows, census.columns) == (cells, farthest_row, farthest_col)


@pytest.mark.parametrize(("late", "max_col"), [("K", 11), ("AB", 28), ("XFD", 16_384)])
def test_a_wider_cell_megabytes_into_the_sheet_is_counted(tmp_path: Path, late: str, max_col: int) -> None:
    """A cell wider than all before it, in a later chunk than the first, still sets the width."""
    rows = [
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>1</v></c>'
        f'<c r="C{r}" t="inlineStr"><is><t>x</t></is></c></row>'
        for r in range(1, 30_000)
    ]
    rows.append(f'<row r="30000"><c r="A30000"><v>1</v></c><c r="{late}30000"><v>1</v></c></row>')
    path = raw_xlsx(tmp_path / "late.xlsx", "".join(rows))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("xl/worksheets/sheet1.xml").file_size > 2 * 1024 * 1024  # several chunks
        census, _ = count_xlsx_sheet(zf, "xl/worksheets/sheet1.xml", stop_after=10**7)
    assert (census.cells, census.rows, census.columns) == (3 * 29_999 + 2, 30_000, max_col)


def test_a_lying_dimension_is_streamed_not_refused(tmp_path: Path) -> None:
    path = raw_xlsx(tmp_path / "dim.xlsx", HEADER_ROW, dimension="A1:XFD1048576")
    done, peak = _check_in_a_child(path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] == 1
    assert peak < 400


def test_a_big_workbook_is_read_in_flat_memory(tmp_path: Path) -> None:
    """200,000 rows × 23 columns: calamine alone peaked at 690 MiB on it; streamed it stays small."""
    path = tmp_path / "big.xlsx"
    width = 23
    with XlsxWriter(path) as book:
        book.add_sheet(
            "Contacts",
            ["phone"] + [f"c{j}" for j in range(1, width)],
            (
                [f"(617) {200 + i // 10000:03d}-{i % 10000:04d}"] + [f"v{i}.{j}" for j in range(1, width)]
                for i in range(200_000)
            ),
        )
    done, peak = _check_in_a_child(path, "--show", "0")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] == 200_000
    assert peak < 400, f"peak RSS {peak} MiB"


def _calamine_texts(path: Path) -> list[list[str]]:
    data = calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    rows = [[cell_text(c) for c in row] for row in data]
    return [_trim(r) for r in rows if any(r)]


def _trim(row: list[str]) -> list[str]:
    while row and row[-1] == "":
        row.pop()
    return row


def _stream_texts(path: Path) -> list[list[str]]:
    with zipfile.ZipFile(path) as zf:
        book = read_workbook(zf)
        rows = stream_rows(zf, book.sheets[0][1], SharedStrings.load(zf), date_styles(zf), book.date1904)
        texts = [_trim([cell_text(c) for c in values]) for _, values in rows]
    return [r for r in texts if any(r)]


FORMATS = [
    "General",
    "0",
    "0.00",
    "0%",
    "0.00E+00",
    "yyyy-mm-dd",
    "dd/mm/yyyy hh:mm",
    "m/d/yy h:mm",
    "h:mm AM/PM",
    "[h]:mm:ss",
    "mm:ss",
    '"mm" 0',
    'yyyy"年"m"月"d"日"',
    "[$-409]mmmm d, yyyy;@",
    "[Red]0.00;[Blue]-0.00",
    "#,##0\\ [$€-407]",
    "d-mmm-yy",
    "@",
]


@pytest.mark.parametrize("date1904", [False, True])
def test_the_streamed_reader_gives_exactly_what_calamine_gives(tmp_path: Path, date1904: bool) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    if date1904:
        wb.epoch = dt.datetime(1904, 1, 1)
    values: list[Any] = [
        6175551234,
        3.25,
        -5.5,
        1e20,
        0.1 + 0.2,
        46357,
        46357.39583333334,
        0.25,
        1.25,
        61,
        True,
        False,
        "00123",
        "Zoë 🎉 ünïcode",
        "  padded  ",
        "=not a formula",
        dt.datetime(2026, 12, 1, 9, 30, 15),
        dt.date(2026, 12, 4),
        dt.time(17, 45),
    ]
    for r, value in enumerate(values, start=1):
        for c, fmt in enumerate(FORMATS, start=1):
            if fmt == "[h]:mm:ss" and isinstance(value, (int, float)) and abs(value) >= 1e9:
                continue  # calamine itself raises OverflowError here (see the next test)
            cell = ws.cell(r, c, value)
            cell.number_format = fmt
    ws.cell(len(values) + 2, 3, "after a gap")
    ws.cell(len(values) + 3, 1).value = "=1+1"  # a formula with no cached value
    path = tmp_path / "types.xlsx"
    wb.save(path)
    assert _stream_texts(path) == _calamine_texts(path)


def test_a_cell_calamine_cannot_convert_is_read_by_the_streaming_reader(tmp_path: Path, run_cli: Run) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["phone", "duration"])
    ws.append([6175550101, 1e20])
    ws.cell(2, 2).number_format = "[h]:mm:ss"
    wb.save(tmp_path / "d.xlsx")
    result = run_cli("check", tmp_path / "d.xlsx", "--json")
    assert result.code == 0, result.err
    assert result.json()["valid"] == 1


def _saved_over(path: Path, content: bytes) -> tuple[threading.Event, Callable[[int, int], None]]:
    """A progress callback that, the first time it is called, saves ``content`` over the file in
    place (same size, other bytes), as a spreadsheet program saving while the import runs."""
    changed = threading.Event()

    def change_the_file(done: int, total: int) -> None:
        if not changed.is_set():
            changed.set()
            with path.open("r+b") as f:
                f.write(content)

    return changed, change_the_file


def test_a_file_changed_while_it_is_imported_is_refused(tmp_path: Path) -> None:
    path = contacts(tmp_path / "c.csv", 60_000)
    original = path.read_bytes()
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    changed, change_the_file = _saved_over(path, original.replace(b"(617)", b"(508)"))

    with pytest.raises(InputFileError, match="changed while it was being read"):
        import_file(
            ledger, path, MappingSpec(), survey_id="4242", instance_id="1", progress=change_the_file, parallel=False
        )
    assert changed.is_set()
    assert ledger.jobs() == []  # the transaction was rolled back: no job half old, half new
    path.write_bytes(original)
    result = import_file(ledger, path, MappingSpec(), survey_id="4242", instance_id="1", parallel=False)
    assert (result.created, result.valid) == (True, 60_000)
    ledger.engine.dispose()


def test_a_file_changed_under_the_validating_helper_is_refused(tmp_path: Path) -> None:
    path = contacts(tmp_path / "c.csv", 400_000)
    original = path.read_bytes()
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    changed, change_the_file = _saved_over(path, original.replace(b"Name ", b"Nom  "))
    assert not changed.is_set()

    with pytest.raises(InputFileError, match="changed"):
        import_file(
            ledger, path, MappingSpec(), survey_id="4242", instance_id="1", progress=change_the_file, parallel=True
        )
    assert changed.is_set()
    assert ledger.jobs() == []
    ledger.engine.dispose()


def test_a_file_gone_before_the_helper_reads_it_is_a_clean_error(tmp_path: Path) -> None:
    """The validating helper opens the file again; if it has gone, the import stops with a message."""
    with pytest.raises(InputFileError, match="no such file"):
        list(
            Validation.start(tmp_path / "gone.csv", MappingSpec(), now=0, max_problems=1).runs(sha256="0", result=None)
        )


def _done_reading(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has read ``path`` through (twice: its check pass and its parse) and let it go."""
    size = path.stat().st_size
    io_counts = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    held = any(os.path.realpath(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    return int(io_counts["rchar"]) >= 2 * size and not held


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="reads /proc (Linux)")
def test_the_helper_validates_ahead_of_a_writer_not_yet_reading_and_stops_when_it_goes(tmp_path: Path) -> None:
    """The helper queues what it validated while the writer is still opening the ledger (it does
    not wait on the pipe), and leaves on its own once the writer closes its end."""
    rows = [["phone", "name"]] + [[f"617555{i % 10000:04d}", f"name {i}"] for i in range(100_000)]
    path = write_csv(tmp_path / "c.csv", rows).resolve()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    ahead = Validation.start(path, MappingSpec(), now=0, max_problems=1)
    deadline = time.monotonic() + 60
    while not _done_reading(ahead._process.pid, path):  # nothing is read from the pipe meanwhile
        assert time.monotonic() < deadline, "the helper stopped reading while its writer was not reading"
        time.sleep(0.05)
    path.write_text("phone\n", encoding="utf-8")  # the helper has all it needs: a change now is not seen
    result = SimpleNamespace(warnings=[])
    runs = list(ahead.runs(sha256=digest, result=result))
    assert sum(len(run.rows[0]) if run.shape == "bare" else len(run.rows) for run in runs) == 100_000
    assert result.rows == 100_000
    assert result.duplicate == 90_000

    write_csv(path, rows)
    gone = Validation.start(path, MappingSpec(), now=0, max_problems=1)
    assert gone._reader.recv_bytes()[:1] == b"M"  # one message read, the rest left in the pipe
    gone.cancel()
    assert gone._process.exitcode == 0  # it stopped by itself, not killed (-9) after cancel's wait


def test_an_unbalanced_quote_is_warned_about_with_its_row(tmp_path: Path, run_cli: Run) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        'phone,name,notes\n6175550101,Ann,"fine"\n6175550102,Bob,"oops\n6175550103,Cy,x\n6175550104,Di,"y"\n',
        encoding="utf-8",
    )
    result = run_cli("check", path, "--json")
    warnings = result.json()["warnings"]
    assert any("row 3" in w and "'notes'" in w and "unbalanced" in w for w in warnings), warnings


def test_a_fifo_is_refused_rather_than_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "contacts.csv"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "batchqueue", "check", str(fifo)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "named pipe" in done.stderr


def test_report_columns_in_an_input_are_ignored_and_said(tmp_path: Path, run_cli: Run) -> None:
    path = write_csv(
        tmp_path / "again.csv",
        [
            ["bq_row", "phone", "name", "bq_state", "bq_detail"],
            ["2", "6175550101", "Ann", "failed", "bad"],
            ["3", "6175550102", "Bob", "invalid", "x"],
        ],
    )
    imported = run_cli("import", path, "--survey", "4242", "--instance", "1", "--json")
    assert imported.code == 0
    body = imported.json()
    assert body["mapping"]["metadata"] == ["name"]
    assert any("bq_state" in w and "ignored" in w for w in body["warnings"])
    assert run_cli("export", "1", "-o", tmp_path / "r.json").code == 0
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in report["rows"]] == ["Ann", "Bob"]
    assert all(r["bq_state"] == "pending" for r in report["rows"])
    assert run_cli("export", "1", "-o", tmp_path / "r.csv").code == 0
    header = (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert len(header) == len(set(header))


@pytest.mark.parametrize("encoding", ["utf-32-le", "utf-32-be"])
def test_a_utf32_file_with_its_bom_is_read_as_utf32(tmp_path: Path, run_cli: Run, encoding: str) -> None:
    # A UTF-32 LE BOM (FF FE 00 00) begins like UTF-16 LE's (FF FE): read as UTF-16, every header was
    # a column of NUL-separated letters and every row invalid.
    bom = codecs.BOM_UTF32_LE if encoding.endswith("le") else codecs.BOM_UTF32_BE
    path = tmp_path / "wide.csv"
    path.write_bytes(bom + "Phone,Name\n6175550101,Zoë\n".encode(encoding))
    result = run_cli("check", path, "--json")
    assert result.code == 0, result.out + result.err
    assert (result.json()["valid"], result.json()["mapping"]["metadata"]) == (1, ["Name"])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])  # with a BOM, and recognised without one
def test_nul_characters_in_utf16_text_are_refused_as_in_utf8(tmp_path: Path, run_cli: Run, encoding: str) -> None:
    path = tmp_path / "nul16.csv"
    path.write_bytes("Phone,Name\n6175550101,Ann\n6175550102,a\x00b\n".encode(encoding))
    result = run_cli("import", path, "--survey", "1", "--instance", "1", "--db", tmp_path / "l.db")
    assert result.code == 2
    assert "nul16.csv" in result.err
    assert "NUL characters" in result.err
    assert "Traceback" not in result.err


def test_a_line_longer_than_16_mib_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    # Seventeen cells of 1 MiB each: every one within the cell limit, the line (a parser holds the
    # whole record, several times its size) beyond any contact list's.
    path = tmp_path / "long.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("phone," + ",".join(f"c{i}" for i in range(17)) + "\n6175550101")
        for _ in range(17):
            f.write("," + "a" * (1 << 20))
        f.write("\n6175550102" + ",x" * 17 + "\n")
    done, peak = _check_in_a_child(path)
    assert done.returncode == 2, done.stdout
    assert "long.csv: line 2 is longer than 16 MiB" in done.stderr
    assert "Traceback" not in done.stderr
    assert peak < 100, f"peak RSS {peak} MiB"


_CAPPED_STDIN = (
    "import sys; from batchqueue.cli import load_cmds, main; load_cmds.STDIN_LIMIT = 1 << 20; main(sys.argv[1:])"
)


def test_standard_input_past_its_limit_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    # `yes 6175550100 | batchqueue check -` never ends: kept whole, it filled the disk (2 GB in 15 s).
    done = subprocess.run(
        [sys.executable, "-c", _CAPPED_STDIN, "check", "-"],
        input=b"phone\n" + b"6175550100\n" * 200_000,  # 2.2 MB, over the 1 MiB limit set for the test
        capture_output=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "standard input goes on past" in done.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_standard_input_kept_for_reading_is_removed_when_the_command_is_terminated(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "batchqueue", "check", "-"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    proc.stdin.write(b"phone\n" + b"6175550100\n" * 1000)
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("batchqueue-stdin-*/standard-input")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the command is keeping standard input, which has not ended
    assert list(tmp_path.iterdir()), "standard input was never kept"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)  # as `timeout` or a service manager stops it
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert list(tmp_path.iterdir()) == []
