"""`batchqueue export`: every format read back, formula-safe cells, filters, --as-input."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from tests.conftest import CliResult, write_csv

Run = Callable[..., CliResult]
EVIL = ['=HYPERLINK("http://x")', "+SUM(1)", "-2+3", "@cmd", "\tTAB", "\rCR"]


@pytest.fixture
def job(tmp_path: Path, run_cli: Run) -> Path:
    """Job 1: Zoë's row carries injection payloads; rows of every kind; some outcomes set by hand."""
    rows: list[list[object]] = [["Name", "Phone", "Note", "Evil1", "Evil2", "Evil3", "Evil4", "Evil5", "Evil6"]]
    rows.append(["Zoë Ångström 東京", "6175550101", "naïve café", *EVIL])
    rows.append(["Bob", "12", "bad phone", "", "", "", "", "", ""])
    rows.append(["Cy", "617.555.0101", "duplicate", "", "", "", "", "", ""])
    rows.append(["Di", "6175550102", "to fail", "", "", "", "", "", ""])
    rows.append(["Ed", "6175550103", "uncertain", "", "", "", "", "", ""])
    write_csv(tmp_path / "c.csv", rows)
    assert run_cli("import", tmp_path / "c.csv", "--survey", "1", "--instance", "1").code == 0
    db = tmp_path / "batchqueue.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE rows SET state='queued', call_id='77', http_status=200, attempts=1, "
            "outcome_status='completed', outcome_source='callback', outcome_at=1796133600 WHERE row_number=2"
        )
        conn.execute(
            "UPDATE rows SET state='failed', error='phone_number refused', http_status=400, attempts=1 "
            "WHERE row_number=5"
        )
        conn.execute("UPDATE rows SET state='uncertain', error='HTTP 500', http_status=500 WHERE row_number=6")
    return db


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_report_has_every_row_in_order_and_is_formula_safe(tmp_path: Path, job: Path, run_cli: Run) -> None:
    out = tmp_path / "r.csv"
    result = run_cli("export", "1", "-o", out, "--json")
    assert result.json()["rows"] == 5
    rows = _csv(out)
    assert [r["bq_row"] for r in rows] == ["2", "3", "4", "5", "6"]
    assert [r["bq_state"] for r in rows] == ["queued", "invalid", "duplicate", "failed", "uncertain"]
    zoe = rows[0]
    assert zoe["Name"] == "Zoë Ångström 東京"
    assert (zoe["bq_call_id"], zoe["bq_call_outcome"], zoe["bq_learned_by"]) == ("77", "completed", "callback")
    assert zoe["bq_learned_at_utc"] == "2026-12-01 14:00:00"
    assert [zoe[f"Evil{i}"] for i in range(1, 7)] == ["'" + e for e in EVIL]
    assert zoe["bq_phone_sent"] == "tel:+16175550101"  # 't' first: nothing to neutralise
    assert "wrong number of digits" in rows[1]["bq_detail"]
    assert "same number as row 2" in rows[2]["bq_detail"]
    assert rows[3]["bq_detail"] == "Insight refused the request (HTTP 400): phone_number refused"
    assert rows[4]["bq_detail"] == "Insight answered with a server error (HTTP 500): the call may or may not be queued"
    assert "bq_detail_technical" not in rows[0]  # the technical text is for the JSON report only
    as_json = tmp_path / "r.json"
    assert run_cli("export", "1", "-o", as_json).code == 0
    technical = [r["bq_detail_technical"] for r in json.loads(as_json.read_text(encoding="utf-8"))["rows"]]
    assert technical[3:] == ["phone_number refused", "HTTP 500"]


@pytest.mark.parametrize(
    ("state", "error", "status", "words"),
    [
        ("uncertain", "connection broken after sending (ProtocolError): ('Connection broken: IncompleteRead", None,
         "the connection broke after the request was sent: the call may or may not be queued"),
        ("uncertain", "no reply before the read timeout", None,
         "Insight did not answer in time: the call may or may not be queued"),
        ("uncertain", "found 'sending' with no live sender: the process sending it died", None,
         "the run sending it stopped before Insight's answer was recorded: the call may or may not be queued"),
        ("failed", "HTTP 400: the data was refused", 400,
         "Insight refused the request (HTTP 400): the data was refused"),
        ("pending", "cannot connect: [Errno 111] Connection refused", None, "not sent: Insight could not be reached"),
    ],
)  # fmt: skip
def test_details_read_as_words(state: str, error: str, status: int | None, words: str) -> None:
    from batchqueue.reports.words import in_words

    assert in_words(state, error, status) == words


def test_xlsx_report_is_styled_streamed_and_safe(tmp_path: Path, job: Path, run_cli: Run) -> None:
    out = tmp_path / "r.xlsx"
    assert run_cli("export", "1", "-o", out).code == 0
    book = openpyxl.load_workbook(out)
    sheet = book["Report"]
    assert book.sheetnames == ["Report", "Summary"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:AC6"  # 1 + 9 input + 19 bq_ columns, header + 5 rows
    assert sheet["A1"].font.b is True
    assert sheet.column_dimensions["A"].width >= 8
    header = [c.value for c in sheet[1]]
    zoe = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert zoe["Name"] == "Zoë Ångström 東京"
    assert zoe["Evil1"] == EVIL[0]  # kept as typed: a text cell, never a formula
    for cell in sheet[2]:
        assert cell.data_type != "f"
    assert sheet.cell(2, header.index("Evil2") + 1).quotePrefix is True
    assert zoe["bq_row"] == 2
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2)}
    assert summary["state: queued"] == 1
    assert summary["call outcome: completed"] == 1
    # calamine (another reader) agrees
    data = python_calamine.CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Report").to_python()
    assert data[1][1] == "Zoë Ångström 東京"
    assert len(data) == 6


def test_json_report(tmp_path: Path, job: Path, run_cli: Run) -> None:
    out = tmp_path / "r.json"
    assert run_cli("export", "1", "-o", out).code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["job"]["job_id"] == 1
    assert [r["bq_state"] for r in data["rows"]] == ["queued", "invalid", "duplicate", "failed", "uncertain"]
    assert data["rows"][0]["Evil1"] == EVIL[0]  # JSON is data, not a spreadsheet: kept exactly
    assert data["summary"]["state: failed"] == 1


def test_filters(tmp_path: Path, job: Path, run_cli: Run) -> None:
    def states(*args: str) -> list[str]:
        out = tmp_path / "f.csv"
        assert run_cli("export", "1", "-o", out, *args).code == 0
        return [r["bq_state"] for r in _csv(out)]

    assert states("--state", "failed,uncertain") == ["failed", "uncertain"]
    assert states("--outcome", "completed") == ["queued"]
    assert states("--errors-only") == ["invalid", "failed", "uncertain"]
    bad = run_cli("export", "1", "-o", tmp_path / "x.csv", "--state", "lost")
    assert bad.code == 2
    assert "unknown state" in bad.err
    assert run_cli("export", "1", "-o", tmp_path / "x.pdf").code == 2


def test_as_input_gives_a_file_that_imports_again(tmp_path: Path, job: Path, run_cli: Run) -> None:
    out = tmp_path / "fix.csv"
    assert run_cli("export", "1", "-o", out, "--as-input").code == 0
    rows = _csv(out)
    assert list(rows[0]) == [
        "bq_row", "bq_reason", "Name", "Phone", "Note", "Evil1", "Evil2", "Evil3", "Evil4", "Evil5", "Evil6"
    ]  # fmt: skip
    assert [r["Name"] for r in rows] == ["Bob", "Di"]  # invalid and failed rows, in their own columns
    assert [r["bq_row"] for r in rows] == ["3", "5"]
    assert "Phone" in rows[0]["bq_reason"]
    assert rows[1]["bq_reason"]
    rows[0]["Phone"] = "6175550104"  # corrected
    write_csv(out, [list(rows[0]), *[list(r.values()) for r in rows]])
    again = run_cli("import", out, "--survey", "1", "--instance", "1", "--json").json()
    assert (again["created"], again["valid"], again["invalid"]) == (True, 2, 0)


def test_csv_export_options_delimiter_encoding_columns(tmp_path: Path, job: Path, run_cli: Run) -> None:
    out = tmp_path / "r.csv"
    assert run_cli("export", "1", "-o", out, "--delimiter", ";", "--columns", "bq_row,Name,bq_state").code == 0
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0] == ["bq_row", "Name", "bq_state"]
    assert rows[1] == ["2", "Zoë Ångström 東京", "queued"]
    unknown = run_cli("export", "1", "-o", out, "--columns", "Name,Surname")
    assert unknown.code == 2
    assert "no column 'Surname'" in unknown.err
    # cp1252 writes what it can and names the cell it cannot, rather than writing "?".
    latin = tmp_path / "latin.csv"
    assert run_cli("export", "1", "-o", latin, "--encoding", "cp1252", "--columns", "bq_row,Note").code == 0
    assert latin.read_bytes().decode("cp1252").splitlines()[1] == "2,naïve café"
    refused = run_cli("export", "1", "-o", tmp_path / "no.csv", "--encoding", "cp1252")
    assert refused.code == 2
    assert "row 2, column 'Name': '東京' cannot be written in cp1252" in refused.err
    assert not (tmp_path / "no.csv").exists()
    assert run_cli("export", "1", "-o", tmp_path / "r.xlsx", "--delimiter", ";").code == 2


def test_export_to_standard_output(tmp_path: Path, job: Path, run_cli: Run) -> None:
    result = run_cli("export", "1", "-o", "-", "--columns", "bq_row,bq_state")
    assert result.code == 0
    expected = [["bq_row", "bq_state"], ["2", "queued"], ["3", "invalid"], ["4", "duplicate"], ["5", "failed"]]
    assert list(csv.reader(result.out.splitlines())) == [*expected, ["6", "uncertain"]]
    assert "5 row(s) written to standard output" in result.err
    as_json = run_cli("export", "1", "-o", "-", "--format", "json")
    assert json.loads(as_json.out)["rows"][0]["bq_state"] == "queued"


def test_xlsx_report_names_its_autofilter_for_libreoffice(tmp_path: Path, job: Path, run_cli: Run) -> None:
    out = tmp_path / "r.xlsx"
    assert run_cli("export", "1", "-o", out).code == 0
    import zipfile

    with zipfile.ZipFile(out) as zf:
        workbook = zf.read("xl/workbook.xml").decode()
    assert (
        '<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">\'Report\'!$A$1:$AC$6</definedName>'
        in workbook
    )


#: Column names a spreadsheet would run, or that begin with a quote already.
HEADER_TRAPS = ["=SUM(A1)", "+cmd", "-x", "@me", "'=quoted", "'plain", "''", "＝SUM(A1)", "＋cmd", "－y", "＠you"]
#: The last four: full-width forms, which Excel with an East Asian input method reads as = + - @.
#: "-x" reads as "x", an extension column's name in dialer exports: its letters are no extension, so
#: it is kept as metadata, as the refusal of the guess says to.
NOT_AN_EXTENSION = ("--column", "postd=none")


@pytest.mark.parametrize(
    "how",
    [
        ["export", "1", "-o", "out.csv"],
        ["export", "1", "-o", "out.csv", "--as-input", "--state", "pending"],
        ["export", "1", "-o", "out.csv", "--columns", ",".join(HEADER_TRAPS)],
        ["export", "1", "-o", "out.csv", "--delimiter", ";"],
        ["check", "c.csv", "--errors-out", "out.csv", *NOT_AN_EXTENSION],
    ],
    ids=["report", "as-input", "columns", "delimiter", "errors-out"],
)
def test_csv_header_cells_are_formula_safe_and_read_back_as_named(tmp_path: Path, run_cli: Run, how: list[str]) -> None:
    write_csv(tmp_path / "c.csv", [["Phone", *HEADER_TRAPS], ["6175550101", *"abcdefg"], ["12", *"hijklmn"]])
    assert run_cli("import", "c.csv", "--survey", "1", "--instance", "1", *NOT_AN_EXTENSION).code == 0
    run_cli(*how)
    delimiter = ";" if "--delimiter" in how else ","
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f, delimiter=delimiter))
    # Every name a spreadsheet could run, or whose own leading quote it would eat, is quoted once more.
    assert [name for name in header if name.lstrip("'") in [t.lstrip("'") for t in HEADER_TRAPS]] == [
        "'" + t for t in HEADER_TRAPS
    ]
    if "--columns" in how:
        return  # no bq_ column: read back as written, like any file of the user's
    again = run_cli(
        "import", "out.csv", "--survey", "1", "--instance", "2", "--delimiter", delimiter, *NOT_AN_EXTENSION, "--json"
    )
    assert again.code == 0, again.err
    assert [c for c in again.json()["mapping"]["metadata"]] == HEADER_TRAPS  # the job's names, exactly
