"""Rebuild samples/contacts.xlsx (a realistic Excel export). Run: python samples/make_samples.py"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook

ROWS = [
    ("Maria", "García", 6175550101, "00123", dt.datetime(2026, 12, 1, 9, 0), "es"),
    ("James", "O'Neil", 6175550102, "00124", dt.datetime(2026, 12, 1, 9, 30), "en"),
    ("Aisha", "Khan", "617-555-0103 ext. 12", "00125", dt.datetime(2026, 12, 1, 10, 0), "en"),
    ("Wei", "Zhang", 16175550104, "00126", dt.datetime(2026, 12, 2, 14, 0), "zh"),
    ("Lena", "Müller", "(617) 555-0105", "00127", None, "de"),
    ("Tom", "Baker", 12345, "00128", dt.datetime(2026, 12, 3, 11, 0), "en"),
    ("Kofi", "Mensah", 2125550107, "00129", dt.date(2026, 12, 4), "en"),
    ("Sofia", "Rossi", "+39 06 6982 0001", "00130", dt.datetime(2026, 12, 4, 16, 0), "it"),
]


def build(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Contacts"
    ws.append(["First Name", "Last Name", "Mobile", "Account", "Call After", "Language"])
    for row in ROWS:
        ws.append(list(row))
    for cell in ws["E"][1:]:
        cell.number_format = "yyyy-mm-dd hh:mm"
    for cell in ws["C"][1:]:
        if isinstance(cell.value, int):
            cell.number_format = "0"
    notes = wb.create_sheet("Notes")
    notes.append(["Campaign", "Owner"])
    notes.append(["Winter satisfaction survey", "ops@example.com"])
    wb.save(path)


if __name__ == "__main__":
    build(Path(__file__).with_name("contacts.xlsx"))
