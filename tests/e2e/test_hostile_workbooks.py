"""Hostile workbooks of every format, as a user meets them: `batchqueue check` and `import` in a
process of their own (under a memory ceiling, so that a regression fails the test, not the
machine), and the console's check page and API. Each attack in several spellings; each must end
in a clear message and exit 2, within seconds, never an abort, a traceback or gigabytes.

The files are written byte by byte (tests/workbook_makers.py), from the formats' specifications.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import check_in_a_child as _check_in_a_child
from tests.console_helpers import Running, api_session
from tests.workbook_makers import (
    CONTACT_ROWS,
    ODS_CONTACT_ROWS,
    XLS_CONTACT_CELLS,
    Cell,
    biff8_stream,
    cfb_file,
    inline_row,
    ods_cell,
    ods_content,
    ods_file,
    ods_row,
    worksheet_xml,
    xls_file,
    xlsb_file,
    xlsx_file,
)

#: What a refusal must never look like: a crash, a Rust panic, an abort.
CRASH_SIGNS = ("Traceback", "panicked", "memory allocation", "Aborted", "core dumped")
#: Generous for a refusal that takes well under a second here: a refusal must not wait for a load.
QUICK = 20.0


def refused(path: Path, *words: str, memory_gb: int = 2) -> str:
    """`batchqueue check PATH` in a capped child: exit 2, a message naming the file and saying
    ``words``, quickly, and no crash; returns the message."""
    started = time.monotonic()
    done, peak = _check_in_a_child(path, memory_gb=memory_gb)
    seconds = time.monotonic() - started
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert not any(sign in done.stderr for sign in CRASH_SIGNS), done.stderr[-2000:]
    assert path.name in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    assert seconds < QUICK, f"{seconds:.1f} s"
    assert peak < 400, f"peak RSS {peak} MiB"
    return done.stderr


# ---- a cell far away, however it is written ---------------------------------------------------

_FAR = {
    "double quotes": '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
    "single quotes": "<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>",
    "spaces around =": '<row r = "1048576" ><c r = "XFD1048576" ><v>1</v></c></row>',
    "tab and newline before r": '<row\tr="1048576"><c\n\tr="XFD1048576"><v>1</v></c></row>',
    "lower case": '<row r="1048576"><c r="xfd1048576"><v>1</v></c></row>',
    "mixed case": '<row r="1048576"><c r="xFd1048576"><v>1</v></c></row>',
    "character references": '<row r="&#49;048576"><c r="&#88;F&#x44;1048576"><v>1</v></c></row>',
    "in an early row element": '<row r="3"><c r="XFD1048576"><v>1</v></c></row>',
    "a row alone, far below": '<row r="1048576"><c><v>1</v></c></row><row r="1048575"><c r="XFD7"/></row>',
    "no quote-free attribute before it": '<row r="9"><c s="0" t="n" r="XFD1048576"><v>1</v></c></row>',
}


@pytest.mark.parametrize("spelling", list(_FAR))
def test_a_far_xlsx_cell_in_any_spelling_is_refused_before_loading(tmp_path: Path, spelling: str) -> None:
    path = xlsx_file(tmp_path / "far.xlsx", CONTACT_ROWS + _FAR[spelling])
    assert path.stat().st_size < 5000
    refused(path, "stray cell")


def test_a_far_xlsx_cell_under_a_namespace_prefix_is_refused(tmp_path: Path) -> None:
    body = CONTACT_ROWS + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    for tag in ("row", "c", "v", "is", "t"):
        body = (
            body.replace(f"<{tag} ", f"<x:{tag} ").replace(f"<{tag}>", f"<x:{tag}>").replace(f"</{tag}>", f"</x:{tag}>")
        )
    path = xlsx_file(tmp_path / "prefixed.xlsx", "", sheet_xml=worksheet_xml(body, prefix="x"))
    refused(path, "stray cell")


def test_a_far_xlsx_cell_in_a_utf16_sheet_is_refused(tmp_path: Path) -> None:
    xml = worksheet_xml(CONTACT_ROWS + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    xml = xml.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path = tmp_path / "utf16.xlsx"
    xlsx_file(path, "", sheet_xml="placeholder")
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["xl/worksheets/sheet1.xml"] = b"\xff\xfe" + xml.encode("utf-16-le")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    refused(path, "stray cell")


@pytest.mark.parametrize("reference", ["XFE1", "AAAA7", "A1048577", "a99999999999"])
def test_a_cell_past_the_last_column_or_row_is_refused(tmp_path: Path, reference: str) -> None:
    path = xlsx_file(tmp_path / "past.xlsx", CONTACT_ROWS + f'<row r="3"><c r="{reference}"><v>1</v></c></row>')
    refused(path, "past the last")


def test_a_doctype_that_would_expand_a_reference_is_refused(tmp_path: Path) -> None:
    sheet = worksheet_xml(CONTACT_ROWS + '<row r="3"><c r="&far;"><v>1</v></c></row>').replace(
        "<worksheet", '<!DOCTYPE worksheet [<!ENTITY far "XFD1048576">]><worksheet', 1
    )
    path = xlsx_file(tmp_path / "entity.xlsx", "", sheet_xml=sheet)
    refused(path, "DOCTYPE")


@pytest.mark.parametrize(("where", "cell"), [("the first sheet", 0), ("a second sheet (an xls is read whole)", 1)])
def test_a_far_xls_cell_is_refused_before_loading(tmp_path: Path, where: str, cell: int) -> None:
    far: list[Cell] = [(65535, 255, 1.0)]
    if cell == 0:
        path = xls_file(tmp_path / "far.xls", XLS_CONTACT_CELLS + far)
    else:
        path = xls_file(tmp_path / "far.xls", XLS_CONTACT_CELLS, more_sheets=[("Notes", far)])
    assert path.stat().st_size < 10_000
    refused(path, "stray cell", "CSV")


def test_a_far_xls_cell_written_as_a_run_of_blanks_is_refused(tmp_path: Path) -> None:
    """MULBLANK: one record, a row of cells from a first to a last column (the last u16)."""
    stream = biff8_stream([("Contacts", XLS_CONTACT_CELLS)])
    mulblank = struct.pack("<HHHH", 0x00BE, 8, 65535, 0) + struct.pack("<HH", 15, 255)
    at = stream.rindex(struct.pack("<HH", 0x000A, 0))  # the sheet's EOF record
    path = cfb_file(tmp_path / "blanks.xls", [("Workbook", stream[:at] + mulblank + stream[at:])])
    refused(path, "CSV")


@pytest.mark.parametrize(("row", "column"), [(1_048_575, 16_383), (0, 16_383), (1_048_575, 0)])
def test_a_far_xlsb_cell_is_refused_before_loading(tmp_path: Path, row: int, column: int) -> None:
    path = xlsb_file(tmp_path / "far.xlsb", [*XLS_CONTACT_CELLS, (row, column, 1.0)])
    refused(path)


def test_an_xlsb_cell_past_the_last_column_is_refused(tmp_path: Path) -> None:
    path = xlsb_file(tmp_path / "past.xlsb", [*XLS_CONTACT_CELLS, (5, 70_000, 1.0)])
    refused(path, "past the last column")


# ---- rows and columns repeated -----------------------------------------------------------------

_REPEATED = {
    "rows": ods_row(["6175550102", "Bo", "x", "y", "z", "w", "v", "u"], repeat=1_048_000),
    "columns": ods_row(ods_cell("6175550102", repeat=16_384), repeat=2_000),
    "both": ods_row(ods_cell("x", repeat=1_024), repeat=65_536),
    "a far cell after empty rows": ods_row([None], repeat=1_048_000)
    + ods_row(ods_cell(None, repeat=16_000) + ods_cell("x")),
    "a repeated row inside a group": (
        f"<table:table-row-group>{ods_row(['1'] * 64, repeat=1_000_000)}</table:table-row-group>"
    ),
}


@pytest.mark.parametrize("shape", list(_REPEATED))
def test_an_ods_with_repeated_rows_or_columns_is_refused_before_loading(tmp_path: Path, shape: str) -> None:
    path = ods_file(tmp_path / "repeated.ods", ODS_CONTACT_ROWS + _REPEATED[shape])
    assert path.stat().st_size < 2000
    refused(path)


def test_an_ods_repeated_table_past_the_first_is_refused_too(tmp_path: Path) -> None:
    """calamine reads every table of an ods when it opens the file, not only the one asked for."""
    content = ods_content([("Contacts", ODS_CONTACT_ROWS), ("Spare", ods_row(["1"] * 100, repeat=500_000))])
    refused(ods_file(tmp_path / "second.ods", "", content=content))


def test_an_ods_cell_of_a_billion_spaces_is_refused(tmp_path: Path) -> None:
    spaced = '<text:p>a<text:s text:c="900000000"/>b</text:p>'
    cell = f'<table:table-cell office:value-type="string">{spaced}</table:table-cell>'
    refused(ods_file(tmp_path / "spaces.ods", ODS_CONTACT_ROWS + ods_row(cell)), "text")


# ---- one long string, used by every cell -------------------------------------------------------


def _shared_xlsx(path: Path, rows: int, *, rich: bool = False) -> Path:
    cells = "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c><c r="B{r}" t="s"><v>0</v></c></row>' for r in range(3, rows)
    )
    xlsx_file(path, CONTACT_ROWS + cells, shared=["x" * 32_767])
    if rich:  # the same string as rich-text runs
        with zipfile.ZipFile(path) as zf:
            parts = {n: zf.read(n) for n in zf.namelist()}
        runs = "".join(f"<r><t>{'y' * 4095}</t></r>" for _ in range(8))
        parts["xl/sharedStrings.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<si>{runs}</si></sst>"
        ).encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in parts.items():
                zf.writestr(name, data)
    return path


@pytest.mark.parametrize("rich", [False, True])
def test_an_xlsx_whose_cells_all_use_one_long_shared_string_is_refused(tmp_path: Path, rich: bool) -> None:
    path = _shared_xlsx(tmp_path / "shared.xlsx", 100_000, rich=rich)
    assert path.stat().st_size < 1_500_000
    refused(path, "same text")


def test_an_xls_whose_cells_all_use_one_long_shared_string_is_refused(tmp_path: Path) -> None:
    cells: list[Cell] = [(r, c, 0) for r in range(2, 4_000) for c in range(8)]
    path = xls_file(tmp_path / "sst.xls", XLS_CONTACT_CELLS + cells, strings=["y" * 32_767])
    refused(path, "same text")


def test_an_xlsb_whose_cells_all_use_one_long_shared_string_is_refused(tmp_path: Path) -> None:
    cells = [(r, c, 0) for r in range(2, 6_000) for c in range(6)]
    path = xlsb_file(tmp_path / "sst.xlsb", [*XLS_CONTACT_CELLS, *cells], strings=["z" * 32_767])
    refused(path, "same text")


def test_an_ods_long_string_repeated_across_and_down_is_refused(tmp_path: Path) -> None:
    row = ods_row(ods_cell("q" * 30_000, repeat=100), repeat=1_000)
    refused(ods_file(tmp_path / "text.ods", ODS_CONTACT_ROWS + row), "text")


# ---- zip tricks --------------------------------------------------------------------------------


def _patch_central_sizes(path: Path, member: str, size: int) -> None:
    """Declare ``size`` as ``member``'s uncompressed size in the zip's central directory."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02" + b"\x00" * 0)
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == member.encode():
            struct.pack_into("<I", data, at + 24, size)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def test_a_zip_declaring_gigabytes_is_refused(tmp_path: Path) -> None:
    path = xlsx_file(tmp_path / "declared.xlsx", CONTACT_ROWS)
    _patch_central_sizes(path, "xl/worksheets/sheet1.xml", 0xFFFF_FF00)
    refused(path, "zip bomb")


def test_a_zip_declaring_less_than_it_holds_is_refused(tmp_path: Path) -> None:
    """A sheet declared 300 bytes that inflates to 60 MB: read no further than declared, and refused."""
    rows = CONTACT_ROWS + "".join(inline_row(r, ["6175550102", "x" * 200]) for r in range(3, 200_000))
    path = xlsx_file(tmp_path / "liar.xlsx", rows)
    _patch_central_sizes(path, "xl/worksheets/sheet1.xml", 300)
    refused(path, "not a readable workbook")


def test_a_zip_of_twenty_thousand_entries_is_refused(tmp_path: Path) -> None:
    extra = [(f"xl/media/n{i}.bin", b"") for i in range(20_000)]
    path = xlsx_file(tmp_path / "entries.xlsx", CONTACT_ROWS, extra=extra, compression=zipfile.ZIP_STORED)
    refused(path, "20,005 files")


def test_a_zip_holding_a_workbook_is_refused_with_what_to_do(tmp_path: Path) -> None:
    inner = xlsx_file(tmp_path / "contacts.xlsx", CONTACT_ROWS)
    outer = tmp_path / "outer.xlsx"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "contacts.xlsx")
    refused(outer, "unzip it")


def test_a_sheet_part_that_is_itself_a_zip_is_refused(tmp_path: Path) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("inner.xml", b"<" * 50_000_000)
    path = xlsx_file(tmp_path / "nested.xlsx", "", sheet_xml=bomb.getvalue().decode("latin-1"))
    refused(path, "not a readable workbook")


def test_a_nested_zip_bomb_the_workbook_carries_is_never_opened(tmp_path: Path) -> None:
    """An embedded object (a zip within) is not the workbook's data: it is never unpacked."""
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(10):
            zf.writestr(f"layer{i}.bin", b"\x00" * 20_000_000)
    path = xlsx_file(tmp_path / "carrier.xlsx", CONTACT_ROWS, extra=[("xl/embeddings/oleObject1.bin", bomb.getvalue())])
    done, peak = _check_in_a_child(path)
    assert done.returncode == 0, done.stderr
    assert '"valid": 1' in done.stdout
    assert peak < 400


# ---- what slips past the checks ends at the memory ceiling -------------------------------------


def test_a_workbook_calamine_panics_on_is_a_clear_refusal(tmp_path: Path) -> None:
    """A compound file whose stream is declared small (so it would sit in a mini stream it does
    not have): calamine panics (a Rust panic, a BaseException in Python)."""
    path = xls_file(tmp_path / "panic.xls", XLS_CONTACT_CELLS)
    data = bytearray(path.read_bytes())
    entry = 512 + 512 + 128  # header, FAT sector, then the directory: the Workbook entry is the second
    assert data[entry : entry + 16] == "Workbook".encode("utf-16-le")
    struct.pack_into("<Q", data, entry + 120, 216)
    path.write_bytes(bytes(data))
    refused(path, "damaged")


# ---- the import, and its validating helper -----------------------------------------------------


def test_an_import_of_a_hostile_workbook_big_enough_for_the_helper_is_refused(tmp_path: Path) -> None:
    """Over 1 MiB, an import validates in a helper process, which reads the workbook itself under
    the ceiling: the refusal is the same."""
    path = _shared_xlsx(tmp_path / "shared.xlsx", 160_000)
    assert path.stat().st_size > 1024 * 1024
    done = subprocess.run(
        [sys.executable, "-m", "batchqueue", "import", str(path), "--survey", "1", "--instance", "1",
         "--db", str(tmp_path / "l.db")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "same text" in done.stderr
    assert not any(sign in done.stderr for sign in CRASH_SIGNS)


def test_a_legitimate_workbook_of_each_binary_format_is_read(tmp_path: Path) -> None:
    """The checks refuse what no contact list needs, not a list: 3,000 rows in xls, xlsb and ods."""
    rows = [
        (r, c, f"617{200 + r // 1000:03d}{r:04d}" if c == 0 else f"v{r}.{c}") for r in range(1, 3_000) for c in range(4)
    ]
    cells: list[tuple[int, int, str | float | int | None]] = [(0, 0, "phone"), (0, 1, "a"), (0, 2, "b"), (0, 3, "c")]
    cells += rows
    xls_file(tmp_path / "big.xls", cells)
    xlsb_file(tmp_path / "big.xlsb", cells)
    ods_rows = ods_row(["phone", "a", "b", "c"]) + "".join(
        ods_row([f"617{200 + r // 1000:03d}{r:04d}", f"v{r}.1", f"v{r}.2", f"v{r}.3"]) for r in range(1, 3_000)
    )
    ods_file(tmp_path / "big.ods", ods_rows)
    for name in ("big.xls", "big.xlsb", "big.ods"):
        done, _ = _check_in_a_child(tmp_path / name)
        assert done.returncode == 0, (name, done.stderr)
        assert '"valid": 2999' in done.stdout, (name, done.stdout[:500])


# ---- the console: its check page and API read through the same guarded reader ------------------


def _hostile_files(folder: Path) -> dict[str, Path]:
    return {
        "far.xlsx": xlsx_file(folder / "far.xlsx", CONTACT_ROWS + _FAR["single quotes"]),
        "far.xls": xls_file(folder / "far.xls", [*XLS_CONTACT_CELLS, (65535, 255, 1.0)]),
        "rows.ods": ods_file(folder / "rows.ods", ODS_CONTACT_ROWS + _REPEATED["both"]),
        "shared.xlsx": _shared_xlsx(folder / "shared.xlsx", 30_000),
    }


def test_the_console_refuses_hostile_workbooks_and_stays_up(running: Running, tmp_path: Path) -> None:
    """The console reads every upload through a capped child: a hostile one is refused with a
    message on the check page and in the API, and the console (and its callback receiver) go on."""
    session, token = api_session(running.url)
    post: dict[str, Any] = {"headers": {"X-CSRFToken": token}, "timeout": 60}
    for name, path in _hostile_files(tmp_path).items():
        with path.open("rb") as f:
            made = session.post(running.url + "/api/uploads", files={"file": (name, f)}, **post)
        assert made.status_code == 201, made.text
        upload = made.json()["upload_id"]
        checked = session.post(f"{running.url}/api/uploads/{upload}/check", json={}, **post)
        assert checked.status_code == 400, (name, checked.status_code, checked.text[:300])
        assert name in checked.json()["error"]
        page = session.get(f"{running.url}/uploads/{upload}/check", timeout=60)
        assert page.status_code == 400, (name, page.status_code)
        assert "Traceback" not in page.text
        imported = session.post(
            f"{running.url}/api/uploads/{upload}/import", json={"survey": "1", "instance": "1"}, **post
        )
        assert imported.status_code == 400, (name, imported.text[:300])
    assert session.get(running.url + "/api/jobs", timeout=10).status_code == 200
    receiver = session.get(running.url + "/cb/not-a-row", timeout=10)  # the callback receiver answers
    assert (receiver.status_code, receiver.json()) == (404, {"error": "unknown callback URL"})
