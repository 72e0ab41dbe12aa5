"""What loading a sheet would cost, counted before anything loads it, and the refusals that follows.

calamine builds a sheet densely: every cell of its used range (~100 bytes each), every shared
string copied into each cell that uses it, every repeated row and column repeated. A file of a
few kilobytes can so ask for gigabytes. Each format's counter (:mod:`.census_xml` for xlsx and
ods, :mod:`.census_biff` for xls and xlsb) reads the file's structure with a real parser and fills
a :class:`Census`; :func:`judge` refuses what no contact list needs, with a message that says why.
The memory ceiling of the reading process (:mod:`.ceiling`) remains the last guard.

Usage::

    census = count_xls(opened_file)          # or count_xlsx_sheet, count_ods, count_xlsb_sheet
    judge(census, path, sheet="Contacts")    # raises InputFileError, or returns the estimate in bytes
"""

from __future__ import annotations

from dataclasses import dataclass

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import InputFileError

#: Excel's last row and column (XFD): no spreadsheet program makes a cell beyond them.
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384
#: What calamine holds per cell of the used range, text aside, and per byte of text (calamine's
#: copy and Python's). Measured here: an xlsx 100 bytes a cell (466 MB for 4.6 M cells); an ods of
#: repeated text cells 240 (485 MB for 2 M): each repeat is a string of its own.
CELL_BYTES, TEXT_FACTOR = 240, 2
#: A used range this large, and this many times the cells really present, is refused.
ABSURD_AREA, ABSURD_RATIO = 1_000_000, 100
#: Text this large, and this many times the bytes it is stored in, is refused (one long shared
#: string used by every cell: a 1 MB file asked for 6.5 GB).
TEXT_FLOOR, TEXT_RATIO = 64 * 1024 * 1024, 64


class BeyondTheSheet(ValueError):
    """A cell or row outside any sheet a spreadsheet program makes (past XFD1048576)."""


@dataclass
class Census:
    """A sheet (or, for formats read whole, a workbook) counted without being built.

    ``area``: the cells a reader allocates (the used range, repeats expanded); ``text``: bytes of
    text the cells expand to (a shared string counted at every use); ``stored``: bytes of the
    structure they were counted from; ``complete``: False when counting stopped early (the sheet
    is big enough to be streamed, never loaded whole)."""

    cells: int = 0
    area: int = 0
    text: int = 0
    stored: int = 0
    rows: int = 0
    columns: int = 0
    #: The area the file declares (its dimension record): calamine 0.37 ignores it, but a reader
    #: that trusted it would reserve it up front (an xlsx sheet declaring a huge one is streamed).
    claimed: int = 0
    complete: bool = True

    def add(self, other: Census) -> None:
        """Another sheet of a workbook read whole (ods, xls): the costs add up."""
        self.cells += other.cells
        self.area += other.area
        self.text += other.text
        self.stored += other.stored
        self.claimed += other.claimed
        self.rows, self.columns = max(self.rows, other.rows), max(self.columns, other.columns)

    @property
    def estimate(self) -> int:
        """Bytes of memory a dense reader needs for it."""
        return self.area * CELL_BYTES + self.text * TEXT_FACTOR


def beyond(row: int, column: int) -> str | None:
    """Why a cell at 1-based ``row``, ``column`` cannot be in a real sheet (None when it can)."""
    if column > MAX_COLUMNS:
        return f"a cell in column {column:,}, past the last column a spreadsheet has (XFD, 16,384)"
    if row > MAX_ROWS:
        return f"a cell in row {row:,}, past the last row a spreadsheet has (1,048,576)"
    return None


def refusal(census: Census, path: str, where: str) -> InputFileError | None:
    """What no contact list needs, said plainly; None when the sheet is fine to read."""
    if census.area > ABSURD_AREA and census.area > ABSURD_RATIO * max(census.cells, 1):
        return InputFileError(
            path,
            f"{where} spans {census.rows:,} rows × {census.columns:,} columns but holds only {census.cells:,} "
            "cells: a stray cell far from the data, or rows and columns repeated a million times over? "
            "Delete the empty rows and columns after the data (or copy the data to a new sheet), or save "
            "the sheet as CSV",
        )
    if census.text > TEXT_FLOOR and census.text > TEXT_RATIO * max(census.stored, 1):
        return InputFileError(
            path,
            f"{where}: its cells repeat the same text into {census.text / 1024**2:,.0f} MB (from "
            f"{census.stored / 1024**2:,.1f} MB in the file), far more than any contact list holds; "
            "save the sheet as CSV if the text is really meant",
        )
    return None


def judge(census: Census, path: str, where: str, *, megabytes: int = DEFAULTS.workbook_memory_mb) -> None:
    """Refuse a sheet no contact list needs, or one a dense reader could not hold in ``megabytes``."""
    refused = refusal(census, path, where)
    if refused is not None:
        raise refused
    if census.estimate > megabytes * 1024 * 1024:
        raise InputFileError(
            path,
            f"this workbook needs more than {megabytes:,} MB of memory to read ({where}: "
            f"{census.area:,} cells in its used range, {census.text / 1024**2:,.0f} MB "
            "of text); save the sheet as CSV (File > Save As > CSV) and import that",
        )
