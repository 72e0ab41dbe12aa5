"""Excel and OpenDocument reading (xlsx, xlsm, xlsb, xls, ods).

python-calamine reads every format, but it builds the whole sheet in memory (~100 bytes a cell)
and allocates the sheet's *used range* densely, so one stray cell at XFD1048576 asks for 17
billion cells and aborts the process. So an xlsx/xlsm sheet is first counted without being parsed
(:func:`~batchqueue.intake.sheets.xlsx_parts.scan_sheet`):

- a used range absurd for the cells the sheet really holds is refused with a message;
- a sheet small enough is read by calamine (fastest);
- a larger one is streamed (:mod:`batchqueue.intake.sheets.xlsx_stream`), in flat memory.

calamine is used directly rather than through ``pandas.read_excel``: it is the same engine, but
pandas drops blank rows (so row numbers would no longer match what Excel shows).

The bytes are read once, through one open file, and hashed again when the rows are done: a file
that changed while it was read is refused, never imported half old, half new.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import python_calamine as calamine

from batchqueue.errors import InputFileError, SheetNotFoundError
from batchqueue.intake.sheets.cells import cell_text, float_text
from batchqueue.intake.sheets.table import SourceInfo
from batchqueue.intake.sheets.xlsx_parts import UNREADABLE, SharedStrings, date_styles, read_workbook, scan_sheet
from batchqueue.intake.sheets.xlsx_stream import stream_rows

#: Sheets up to this many cells (and this used area) are read by calamine, which holds them whole.
CALAMINE_MAX_CELLS = 1_500_000
CALAMINE_MAX_AREA = 3_000_000
#: A used range this large, and this many times the cells really present, is refused.
ABSURD_AREA = 50_000_000
ABSURD_RATIO = 100

NumberedRow = tuple[int, list[Any]]


def sha256_of(f: IO[bytes]) -> tuple[str, int]:
    """(hex digest, size) of an open file, read from its start."""
    digest = hashlib.sha256()
    size = 0
    f.seek(0)
    while chunk := f.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    f.seek(0)
    return digest.hexdigest(), size


def pick_sheet(names: list[str], wanted: str | None, path: str) -> str:
    """``wanted`` is a sheet name, or a 1-based position (``2`` = the second sheet); default the first."""
    listed = ", ".join(repr(n) for n in names)
    if not names:
        raise InputFileError(path, "the workbook has no sheets")
    if wanted is None or wanted == "":
        return names[0]
    if wanted in names:
        return wanted
    folded = {n.casefold(): n for n in names}
    if wanted.strip().casefold() in folded:
        return folded[wanted.strip().casefold()]
    if wanted.strip().isdigit():
        index = int(wanted)
        if 1 <= index <= len(names):
            return names[index - 1]
        raise SheetNotFoundError(path, f"there is no sheet number {index}; the workbook has {len(names)}: {listed}")
    raise SheetNotFoundError(path, f"no sheet named {wanted!r}; the workbook has: {listed}")


def _calamine_rows(name: str, f: IO[bytes], sheet: str | None) -> tuple[str, list[str], Iterator[NumberedRow], int]:
    try:
        workbook = calamine.CalamineWorkbook.from_filelike(f)
        names = list(workbook.sheet_names)
        chosen = pick_sheet(names, sheet, name)
        # skip_empty_area=False keeps the rows above the data, so numbers match Excel's.
        data = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    except calamine.PasswordError:
        raise InputFileError(name, "the workbook is password-protected; save an unprotected copy") from None
    except (calamine.CalamineError, calamine.ZipError, calamine.XmlError) as exc:
        raise InputFileError(name, f"is not a readable workbook ({exc})") from None
    except calamine.WorksheetNotFound as exc:
        raise SheetNotFoundError(name, str(exc)) from None

    def rows() -> Iterator[NumberedRow]:
        for index in range(len(data)):
            yield index + 1, data[index]
            data[index] = []  # rows already read need not stay in memory

    return chosen, names, rows(), len(data)


def _xlsx_rows(
    name: str, f: IO[bytes], sheet: str | None, *, force: bool = False, header_only: bool = False
) -> tuple[str, list[str], Iterator[NumberedRow], int] | None:
    """Rows of an xlsx sheet too large for calamine, streamed; None when calamine can take it
    (``force``: streamed anyway). ``header_only``: streamed without counting the sheet first, for a
    caller that reads only its first rows (an import whose helper process reads the rest)."""
    try:
        zf = zipfile.ZipFile(f)
        book = read_workbook(zf)
        names = [n for n, _ in book.sheets]
        chosen = pick_sheet(names, sheet, name)
        member = dict(book.sheets)[chosen]
        scan = None if header_only else scan_sheet(zf, member, stop_after=CALAMINE_MAX_CELLS)
    except InputFileError:
        raise
    except UNREADABLE as exc:
        raise InputFileError(name, f"is not a readable workbook ({exc})") from None
    if scan is not None and scan.extent_known:
        if scan.area > ABSURD_AREA and scan.area > ABSURD_RATIO * max(scan.cells, 1):
            raise InputFileError(
                name,
                f"sheet {chosen!r} spans {scan.max_row:,} rows × {scan.max_col:,} columns but holds only "
                f"{scan.cells:,} cells: a stray cell far from the data? Delete the empty rows and columns "
                "after the data (or copy the data to a new sheet), or save the sheet as CSV",
            )
        if not force and scan.area <= CALAMINE_MAX_AREA and scan.claimed_cells <= CALAMINE_MAX_AREA:
            f.seek(0)
            return None
    try:
        styles = date_styles(zf)
        strings = SharedStrings.load(zf)
    except UNREADABLE as exc:
        raise InputFileError(name, f"is not a readable workbook ({exc})") from None

    def rows() -> Iterator[NumberedRow]:
        try:
            yield from stream_rows(zf, member, strings, styles, book.date1904)
        except UNREADABLE as exc:
            raise InputFileError(name, f"sheet {chosen!r} cannot be read ({exc})") from None
        finally:
            zf.close()

    return chosen, names, rows(), scan.max_row if scan is not None and scan.extent_known else 0


class ExcelSource:
    """One sheet of a workbook as numbered rows of text. Usage: ``ExcelSource.open(path, open_file, sheet)``."""

    def __init__(self, info: SourceInfo, rows: Iterator[NumberedRow], total: int, source: IO[bytes]) -> None:
        self.info = info
        self.warnings: list[str] = []
        self._rows = rows
        self._total = total
        self._done = 0
        self._source = source

    @classmethod
    def open(cls, path: Path, source: IO[bytes], sheet: str | None = None, *, header_only: bool = False) -> ExcelSource:
        name = str(path)
        sha256, size = sha256_of(source)
        xlsx = zipfile.is_zipfile(source) and _is_xlsx(source)
        found = _xlsx_rows(name, source, sheet, header_only=header_only) if xlsx else None
        source.seek(0)
        if found is None:
            try:
                found = _calamine_rows(name, source, sheet)
            except (OverflowError, ValueError) as exc:
                if isinstance(exc, InputFileError) or not xlsx:
                    raise InputFileError(name, f"has a cell that cannot be read ({exc})") from None
                # calamine cannot convert some cell (a duration of 10^20 days): stream the sheet instead.
                source.seek(0)
                found = _xlsx_rows(name, source, sheet, force=True)
                assert found is not None
        chosen, names, rows, total = found
        info = SourceInfo(path=name, kind="excel", sha256=sha256, size=size, sheet=chosen, sheets=names)
        return cls(info, rows, total, source)

    def raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        for number, values in self._rows:
            self._done = number
            # Most cells are text, most others numbers: each type looked at once, in this frame.
            yield number, [c if type(c) is str else float_text(c) if type(c) is float else cell_text(c) for c in values]
        if sha256_of(self._source)[0] != self.info.sha256:
            raise InputFileError(self.info.path, "the file changed while it was being read; import it again")

    def progress(self) -> tuple[int, int]:
        return self._done, max(self._total, self._done)

    def name_columns(self, names: list[str]) -> None:
        """Nothing to name: a workbook's cells cannot swallow rows."""

    def close(self) -> None:
        self._source.close()


def _is_xlsx(source: IO[bytes]) -> bool:
    """An OOXML package (xlsx/xlsm) rather than an OpenDocument one (ods)."""
    try:
        source.seek(0)
        with zipfile.ZipFile(source) as zf:
            return "[Content_Types].xml" in zf.NameToInfo and "mimetype" not in zf.NameToInfo
    except zipfile.BadZipFile:
        return False
    finally:
        source.seek(0)
