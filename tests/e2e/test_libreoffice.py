"""The xlsx report opened by a real spreadsheet application: LibreOffice Calc, headless.

LibreOffice converts the report to CSV (every sheet), to ODS (where its own reading of the workbook
can be inspected: the autofilter it shows, the column widths) and to PDF. The values it shows
must be the report's values: phones as typed (not 6.18E+09), formula-like text as text.

Skipped when LibreOffice is not installed, except where ``BATCHQUEUE_REQUIRE_LIBREOFFICE=1`` (CI
sets it after installing ``libreoffice-calc``), where its absence is a failure.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from tests import realistic_files as files
from tests.conftest import CliResult, write_csv

Run = Callable[..., CliResult]
EVIL = ['=HYPERLINK("http://x")', "+SUM(1)", "-2+3", "@cmd"]


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        if os.environ.get("BATCHQUEUE_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail("LibreOffice (soffice) is required here but not installed")
        pytest.skip("LibreOffice is not installed")
    return found


def _convert(soffice: str, source: Path, target: str, out: Path, profile: Path) -> None:
    subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            target,
            "--outdir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )


@pytest.fixture
def report(tmp_path: Path, run_cli: Run) -> tuple[Path, dict[str, object]]:
    """An xlsx report of the CRM workbook's job plus formula-like notes and an outcome; and its JSON twin."""
    book = files.crm_workbook(tmp_path / "crm.xlsx")
    assert run_cli("import", book, "--survey", "1", "--instance", "1").code == 0
    evil = write_csv(
        tmp_path / "evil.csv", [["Phone", "Note"], *[[f"617555{i:04d}", text] for i, text in enumerate(EVIL)]]
    )
    assert run_cli("import", evil, "--survey", "1", "--instance", "1").code == 0
    with sqlite3.connect(tmp_path / "batchqueue.db") as conn:
        conn.execute(
            "UPDATE rows SET state='queued', call_id='77', http_status=200, attempts=1, outcome_status='completed', "
            "outcome_source='callback', outcome_at=1796133600 WHERE job_id=1 AND row_number=6"
        )
    out = tmp_path / "report.xlsx"
    assert run_cli("export", "1", "-o", out).code == 0
    as_json = tmp_path / "report.json"
    assert run_cli("export", "1", "-o", as_json).code == 0
    evil_out = tmp_path / "evil.xlsx"
    assert run_cli("export", "2", "-o", evil_out).code == 0
    return out, {"json": json.loads(as_json.read_text(encoding="utf-8")), "evil": evil_out}


def _shown(value: object) -> str:
    return "" if value is None else str(value)


def test_libreoffice_shows_the_report_values_filter_and_widths(
    tmp_path: Path, report: tuple[Path, dict[str, object]]
) -> None:
    soffice = _soffice()
    path, extra = report
    out, profile = tmp_path / "lo", tmp_path / "profile"
    every_sheet = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    _convert(soffice, path, every_sheet, out, profile)
    _convert(soffice, path, "ods", out, profile)
    _convert(soffice, path, "pdf", out, profile)

    # Every value LibreOffice shows is the report's value.
    with (out / "report-Report.csv").open(encoding="utf-8", newline="") as f:
        shown = list(csv.reader(f))
    data = extra["json"]
    assert isinstance(data, dict)
    # The JSON report's one extra key, the technical text behind bq_detail, is not in a spreadsheet.
    technical = "bq_detail_technical"
    expected_rows = [[_shown(v) for k, v in row.items() if k != technical] for row in data["rows"]]
    assert shown[0] == [k for k in data["rows"][0] if k != technical]
    assert shown[1:] == expected_rows
    phones = [row[shown[0].index("Mobile Phone")] for row in shown[1:]]
    assert phones[:2] == ["6175550101", "55 1234 5678"]  # a number cell from the CRM and a text one, as typed
    with (out / "report-Summary.csv").open(encoding="utf-8", newline="") as f:
        summary = {key: value for key, value in csv.reader(f)}  # a row of any other width fails
    assert summary["job"] == "1"
    assert summary["state: pending"] == "6"

    # LibreOffice's own reading of the workbook: the autofilter is on (its database range shows
    # filter buttons), the columns have the widths the report set, and every sheet is there.
    with zipfile.ZipFile(out / "report.ods") as ods:
        content = ods.read("content.xml").decode("utf-8")
    ranges = re.findall(r"<table:database-range [^>]*>", content)
    whole = f"Report.A1:Report.{get_column_letter(len(shown[0]))}{len(shown)}"
    assert any(
        f'table:target-range-address="{whole}"' in r and 'table:display-filter-buttons="true"' in r for r in ranges
    ), ranges
    widths = {float(w) for w in re.findall(r'style:column-width="([0-9.]+)in"', content)}
    assert len(widths) > 3  # not one default width for every column
    assert 'table:name="Summary"' in content

    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page") + pdf.count(b"/Type/Page") >= 1

    # Frozen header row (headless LibreOffice drops view settings, so read by openpyxl).
    sheet = openpyxl.load_workbook(path, read_only=False)["Report"]
    assert sheet.freeze_panes == "A2"


def test_formula_like_text_stays_text_in_libreoffice(tmp_path: Path, report: tuple[Path, dict[str, object]]) -> None:
    soffice = _soffice()
    _, extra = report
    evil = extra["evil"]
    assert isinstance(evil, Path)
    out = tmp_path / "lo"
    _convert(soffice, evil, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", out,
             tmp_path / "profile")  # fmt: skip
    with (out / "evil-Report.csv").open(encoding="utf-8", newline="") as f:
        shown = list(csv.DictReader(f))
    assert [row["Note"] for row in shown] == EVIL  # shown as typed: nothing was computed
    _convert(soffice, evil, "ods", out, tmp_path / "profile")
    with zipfile.ZipFile(out / "evil.ods") as ods:
        content = ods.read("content.xml").decode("utf-8")
    assert "table:formula" not in content
