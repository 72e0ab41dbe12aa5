"""Reading CSV / TSV / XLSX / XLS / ODS files into text rows.

Usage::

    table = open_table(Path("contacts.xlsx"), sheet="Contacts")
    print(table.headers)
    for number, cells, overflow in table.rows():
        ...
"""

from __future__ import annotations

from pathlib import Path

from batchqueue.intake.sheets.csvfile import CsvTable
from batchqueue.intake.sheets.detect import detect_kind, open_source
from batchqueue.intake.sheets.excel import ExcelTable
from batchqueue.intake.sheets.headers import column_letter
from batchqueue.intake.sheets.own_columns import WithoutReportColumns, is_report_column
from batchqueue.intake.sheets.table import RawRow, SourceInfo, Table

__all__ = ["RawRow", "SourceInfo", "Table", "column_letter", "open_table"]


def open_table(path: Path, *, sheet: str | None = None, delimiter: str | None = None) -> Table:
    """Open a spreadsheet for reading; raises :class:`~batchqueue.errors.InputFileError` when it can't.

    The table holds the file open until its rows have been read (or :meth:`Table.close`).
    """
    source, first = open_source(path)
    try:
        kind = detect_kind(path, first, source)
        table: Table
        if kind == "excel":  # detect_kind has already refused zip bombs and encrypted workbooks
            table = ExcelTable.open(path, source, sheet)
        else:
            table = CsvTable.open(path, source, first, delimiter)
    except BaseException:
        source.close()
        raise
    if any(is_report_column(name) for name in table.headers):
        return WithoutReportColumns(table)
    return table
