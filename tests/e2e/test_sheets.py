"""Reading spreadsheets: encodings, delimiters, blank rows, headers, Excel cells, refusals."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest

from batchqueue.errors import HeaderError, InputFileError, SheetNotFoundError
from batchqueue.intake.sheets import open_table
from tests.conftest import write_csv, write_xlsx

HEADER = ["name", "phone", "city"]


def rows_of(path: Path, **kwargs: Any) -> list[tuple[int, list[str], list[str]]]:
    with open_table(path, **kwargs) as table:
        return list(table.rows())


def test_utf8_with_bom_is_read_and_the_bom_is_not_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfname,phone\r\nZo\xc3\xab,6175550101\r\n")
    with open_table(path) as table:
        assert table.headers == ["name", "phone"]
        assert table.info.encoding == "utf-8-sig"
        assert [cells for _, cells, _ in table.rows()] == [["Zoë", "6175550101"]]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path: Path, encoding: str) -> None:
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    path = tmp_path / "u16.csv"
    path.write_bytes(bom + "name\tphone\r\nJürgen\t6175550101\r\n".encode(encoding))
    with open_table(path) as table:
        assert table.info.encoding == "utf-16"
        assert table.info.delimiter == "\t"
        assert [cells for _, cells, _ in table.rows()] == [["Jürgen", "6175550101"]]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_recognised_not_called_binary(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes("name,phone\r\nJürgen,6175550101\r\nAnn,6175550102\r\n".encode(encoding))
    with open_table(path) as table:
        assert table.info.encoding == encoding
        assert "without a BOM" in (table.info.encoding_note or "")
        assert [cells for _, cells, _ in table.rows()] == [["Jürgen", "6175550101"], ["Ann", "6175550102"]]


def test_windows_1252_is_detected_and_said(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "w.csv", [HEADER, ["Müller €", "6175550101", "Köln"]], encoding="cp1252")
    with open_table(path) as table:
        assert table.info.encoding == "cp1252"
        assert table.info.encoding_note is not None
        assert "Windows-1252" in table.info.encoding_note
        assert next(table.rows())[1] == ["Müller €", "6175550101", "Köln"]


def test_bytes_undefined_in_1252_fall_back_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "l1.csv"
    path.write_bytes(b"name,phone\r\nA\x81\xe9,6175550101\r\n")
    with open_table(path) as table:
        assert table.info.encoding == "latin-1"
        assert next(table.rows())[1] == ["A\x81é", "6175550101"]


@pytest.mark.parametrize(("delimiter", "suffix"), [(";", ".csv"), ("\t", ".tsv"), ("|", ".txt"), (",", ".csv")])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str, suffix: str) -> None:
    rows = [HEADER, ["Ann, Jr.", "617 555 0101", "Boston"], ["Bob", "6175550102", "Salem"]]
    path = write_csv(tmp_path / f"d{suffix}", rows, delimiter=delimiter)
    with open_table(path) as table:
        assert table.info.delimiter == delimiter
        assert [cells for _, cells, _ in table.rows()] == rows[1:]


def test_quoted_newlines_blank_lines_and_blank_rows(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text('name,phone,note\n\nAnn,6175550101,"two\nlines"\n,,\n\nBob,6175550102,x\n', encoding="utf-8")
    with open_table(path) as table:
        got = [(n, cells) for n, cells, _ in table.rows()]
        # blank line above the header is row 1; the header is row 2; Ann's record spans two lines.
        assert got == [(3, ["Ann", "6175550101", "two\nlines"]), (6, ["Bob", "6175550102", "x"])]
        assert table.blank_rows == 3


def test_short_rows_are_padded_and_long_rows_keep_their_extra_cells(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("name,phone,city\nAnn,6175550101\nBob,6175550102,Salem,EXTRA,\n", encoding="utf-8")
    assert rows_of(path) == [(2, ["Ann", "6175550101", ""], []), (3, ["Bob", "6175550102", "Salem"], ["EXTRA"])]


def test_duplicate_header_names_are_refused_by_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [["phone", "name", " name "], ["6175550101", "a", "b"]])
    with pytest.raises(HeaderError, match="'name'"):
        open_table(path)


def test_empty_header_name_is_refused_with_its_column_letter(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [["phone", "", "city"], ["6175550101", "a", "b"]])
    with pytest.raises(HeaderError, match="column\\(s\\) B"):
        open_table(path)


def test_trailing_empty_header_cells_are_dropped(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [["phone", "city", "", ""], ["6175550101", "Salem", "", ""]])
    with open_table(path) as table:
        assert table.headers == ["phone", "city"]
        assert next(table.rows())[1:] == (["6175550101", "Salem"], [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"%PDF-1.7\n", "PDF"),
        (b"name,phone\n\x00\x01\x02binary", "binary"),
        (b"\n\n\n", "no header"),
    ],
)
def test_files_that_are_not_spreadsheets_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        open_table(path)


def test_text_named_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_text("phone\n6175550101\n")
    with pytest.raises(InputFileError, match="not an Excel workbook"):
        open_table(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        open_table(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="directory"):
        open_table(tmp_path)


def test_xlsx_cells_become_text_as_a_person_sees_them(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "c.xlsx",
        {
            "Contacts": [
                ["Name", "Mobile", "Account", "Call After", "Score", "Opt in"],
                ["Ann", 6175550101, "00123", dt.datetime(2026, 12, 1, 9, 30), 3.5, True],
                ["Bob", 6175550102.0, "00124", dt.date(2026, 12, 2), 2, False],
            ],
            "Notes": [["x"], ["y"]],
        },
    )
    with open_table(path) as table:
        assert table.info.sheet == "Contacts"
        assert table.info.sheets == ["Contacts", "Notes"]
        assert [cells for _, cells, _ in table.rows()] == [
            ["Ann", "6175550101", "00123", "2026-12-01 09:30:00", "3.5", "TRUE"],
            ["Bob", "6175550102", "00124", "2026-12-02", "2", "FALSE"],
        ]


def test_xlsx_blank_rows_keep_excel_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "b.xlsx", {"S": [[None], ["phone"], ["6175550101"], [None], ["6175550102"]]})
    with open_table(path) as table:
        assert [(n, cells) for n, cells, _ in table.rows()] == [(3, ["6175550101"]), (5, ["6175550102"])]
        assert table.blank_rows == 2


def test_sheet_by_name_by_position_and_a_wrong_name(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "s.xlsx", {"First": [["phone"], ["1"]], "Second": [["tel"], ["2"]]})
    for wanted in ("Second", "2", "second"):
        with open_table(path, sheet=wanted) as table:
            assert table.headers == ["tel"]
    with pytest.raises(SheetNotFoundError, match="'First', 'Second'"):
        open_table(path, sheet="Third")
    with pytest.raises(SheetNotFoundError, match="no sheet number 3"):
        open_table(path, sheet="3")


def test_password_protected_workbook_is_refused(tmp_path: Path) -> None:
    # Office wraps an encrypted xlsx in an OLE compound file with an EncryptedPackage stream.
    path = tmp_path / "locked.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le"))
    with pytest.raises(InputFileError, match="password-protected"):
        open_table(path)


def test_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\x00" * (1 << 20)
            for _ in range(80):
                member.write(block)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(InputFileError, match="zip bomb"):
        open_table(path)


def test_a_damaged_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    with pytest.raises(InputFileError):
        open_table(path)


def test_header_is_found_below_a_title_a_note_and_a_blank_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "report.csv",
        [
            ["Contacts for the December wave"],
            ["Exported 2026-11-02 by jdoe", "", ""],
            [],
            HEADER,
            ["Ana", "6175550101", "Boston"],
            ["Bo", "6175550102", "Salem"],
        ],
    )
    with open_table(path) as table:
        assert (table.header_row, table.headers) == (4, HEADER)
        assert [s.row for s in table.skipped] == [1, 2]
        assert [number for number, _, _ in table.rows()] == [5, 6]


def test_a_header_without_a_title_stays_row_one_even_when_the_first_rows_are_sparse(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [HEADER, ["Ana", "6175550101", ""], ["", "6175550102", ""]])
    with open_table(path) as table:
        assert (table.header_row, table.skipped) == (1, [])
        assert len(list(table.rows())) == 2


def test_footer_rows_are_set_aside_but_rows_that_only_look_like_one_mid_file_are_data(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        [
            HEADER,
            ["Ana", "6175550101", "Boston"],
            ["Total: 2", "", ""],  # looks like a footer, but data follows
            ["Bo", "6175550102", "Salem"],
            ["Cy", "", ""],  # a lone name: maybe a contact with no number, so a row
            [],
            ["Total", "", "2"],
            ["Generated by Northwind CRM on 2026-11-02", "", ""],
        ],
    )
    with open_table(path) as table:
        assert [number for number, _, _ in table.rows()] == [2, 3, 4, 5]
        assert [(s.row, "after the data" in s.why) for s in table.skipped] == [(7, True), (8, True)]


def test_header_row_option_is_the_spreadsheet_row_number(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [["Title"], ["a", "b", "c"], HEADER, ["Ana", "6175550101", "Boston"]])
    with open_table(path, header_row=3) as table:
        assert table.headers == HEADER
    with open_table(path, header_row=2) as table:
        assert table.headers == ["a", "b", "c"]
        assert [number for number, _, _ in table.rows()] == [3, 4]
    with pytest.raises(InputFileError, match="no row 9"):
        open_table(path, header_row=9)


def test_two_level_header_takes_names_from_the_lower_row(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "two.xlsx",
        {"S": [["Contact", None, "Schedule"], ["Name", "Phone", "Call After"], ["Ana", "6175550101", "2026-12-01"]]},
    )
    with open_table(path) as table:
        assert (table.header_row, table.headers) == (2, ["Name", "Phone", "Call After"])
        assert "two-level" in table.skipped[0].why


def test_sep_line_names_the_delimiter_and_is_not_a_row(tmp_path: Path) -> None:
    path = tmp_path / "sep.csv"
    path.write_text("sep=|\nname|phone\nAna|6175550101\n", encoding="utf-8")
    with open_table(path) as table:
        assert (table.info.delimiter, table.header_row, table.headers) == ("|", 1, ["name", "phone"])
        assert list(table.rows()) == [(2, ["Ana", "6175550101"], [])]


def test_null_markers_read_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "n.tsv"
    path.write_text("name\tphone\tcity\nAna\t\\N\tNULL\nBo\t6175550102\tn/a\n", encoding="utf-8")
    with open_table(path, nulls={"\\N", "NULL", "n/a"}) as table:
        assert [cells for _, cells, _ in table.rows()] == [["Ana", "", ""], ["Bo", "6175550102", ""]]
