"""Reading CSV / TSV / XLSX / XLS / ODS files into text rows.

Usage::

    table = open_table(Path("contacts.xlsx"), sheet="Contacts")
    print(table.headers)
    for number, cells, overflow in table.rows():
        ...
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from batchqueue.intake.sheets.ceiling import confined
from batchqueue.intake.sheets.csvfile import CsvSource
from batchqueue.intake.sheets.detect import detect_kind, open_source
from batchqueue.intake.sheets.excel import ExcelSource
from batchqueue.intake.sheets.framing import Framed, RawSource, SkippedRow
from batchqueue.intake.sheets.guarded import GuardedSource
from batchqueue.intake.sheets.headers import column_letter
from batchqueue.intake.sheets.own_columns import FromAnExport, exported_by_batchqueue
from batchqueue.intake.sheets.table import RawRow, SourceInfo, Table

__all__ = ["RawRow", "SkippedRow", "SourceInfo", "Table", "column_letter", "open_table"]


def open_table(
    path: Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    header_row: int | None = None,
    nulls: Iterable[str] = (),
    header_only: bool = False,
    hash_as_read: bool = False,
) -> Table:
    """Open a spreadsheet for reading; raises :class:`~batchqueue.errors.InputFileError` when it can't.

    The header is found among the first rows (or taken from ``header_row``, the sheet's own row
    number); a cell equal to one of ``nulls`` reads as empty. The table holds the file open until
    its rows have been read (or :meth:`Table.close`). ``header_only``: the caller reads no more than
    the header (a workbook is then streamed from its start, not loaded). ``hash_as_read`` (CSV):
    ``info.sha256`` is taken from the bytes as the rows are parsed, and known once they all are;
    for a caller that compares it with the hash it fingerprinted the file by (a workbook is hashed
    when opened, and again once its rows are read).

    A workbook is read by a child process under a memory ceiling (:mod:`.guarded`), unless this
    process is itself such a reader (:func:`.ceiling.confine`): nothing in it can take this process down.
    """
    opened, first = open_source(path)
    try:
        kind = detect_kind(path, first, opened)
        source: RawSource
        if kind == "excel" and confined():
            source = ExcelSource.open(path, opened, sheet, header_only=header_only)
        elif kind == "excel":
            source = GuardedSource.open(path, opened, sheet, header_only=header_only)
        else:
            source = CsvSource.open(path, opened, first, delimiter, hash_as_read=hash_as_read)
    except BaseException:
        opened.close()
        raise
    read, names = source.info.sheet, source.info.sheets
    if not sheet and read and names and read != names[0]:  # the sheets before it are hidden
        hidden = ", ".join(repr(n) for n in names[: names.index(read)])
        source.warnings.append(
            f"hidden sheet(s) {hidden} not read: the first visible sheet is {read!r} (--sheet NAME reads a hidden one)"
        )
    table: Table = Framed(source, header_row=header_row, nulls=frozenset(nulls))
    if exported_by_batchqueue(table.headers):
        return FromAnExport(table)
    return table
