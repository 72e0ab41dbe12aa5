"""Excel and OpenDocument reading (xlsx, xlsm, xlsb, xls, ods), in the process that may do it.

python-calamine reads every format, but it builds the whole sheet in memory (~100 bytes a cell)
and allocates the sheet's *used range* densely, so one stray cell at XFD1048576 asks for 17
billion cells and aborts the process; an ods row repeated a million times, or one long shared
string used by every cell, asks for gigabytes. So a workbook is counted first, with a real parser
and without being built (:mod:`.census_xml`, :mod:`.census_biff`), and refused with a message when
no contact list needs what it asks for (:func:`.census.judge`). An xlsx/xlsm sheet small enough
is then read by calamine (fastest), a larger one streamed
(:mod:`batchqueue.intake.sheets.xlsx_stream`), in flat memory.

This runs only in a process under a memory ceiling (:mod:`.guarded`, :mod:`.ceiling`): the
checks make the common attacks cheap, the ceiling stops whatever slips past them.

calamine is used directly rather than through ``pandas.read_excel``: it is the same engine, but
pandas drops blank rows (so row numbers would no longer match what Excel shows).

The bytes are read once, through one open file, and hashed again when the rows are done: a file
that changed while it was read is refused, never imported half old, half new.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any, Literal

import python_calamine as calamine

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import InputFileError, SheetNotFoundError
from batchqueue.intake.sheets.cells import cell_text, float_text
from batchqueue.intake.sheets.census import CELL_BYTES, TEXT_FACTOR, TEXT_FLOOR, BeyondTheSheet, Census, judge, refusal
from batchqueue.intake.sheets.census_biff import count_xls, count_xlsb_sheet, xlsb_sheets
from batchqueue.intake.sheets.census_xml import count_ods, count_xlsx_sheet, shared_string_lengths, shared_text
from batchqueue.intake.sheets.detect import check_zip
from batchqueue.intake.sheets.table import SourceInfo
from batchqueue.intake.sheets.xlsx_parts import UNREADABLE, SharedStrings, date_styles, read_workbook
from batchqueue.intake.sheets.xlsx_stream import stream_rows

#: Sheets up to this many cells (and this used area) are read by calamine, which holds them whole.
CALAMINE_MAX_CELLS = 1_500_000
CALAMINE_MAX_AREA = 3_000_000
#: At most this share of the memory budget goes to calamine; a sheet that needs more is streamed.
CALAMINE_SHARE = 0.5

Format = Literal["xlsx", "xlsb", "xls", "ods"]
_CFB_MAGIC = b"\xd0\xcf\x11\xe0"

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


def pick_sheet(names: list[str], wanted: str | None, path: str, hidden: Collection[str] = ()) -> str:
    """``wanted`` is a sheet name, or a 1-based position (``2`` = the second sheet); default the first
    sheet that is not ``hidden`` (the one a spreadsheet program opens on; the first of all when every
    sheet is hidden): a hidden sheet is read only when named."""
    listed = ", ".join(repr(n) for n in names)
    if not names:
        raise InputFileError(path, "the workbook has no sheets")
    if wanted is None or wanted == "":
        return next((n for n in names if n not in hidden), names[0])
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


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """calamine prints a Rust backtrace on stderr when it panics (then the panic is an exception),
    and a line before it aborts on a failed allocation: the refusal says what went wrong, so that
    is what the user sees."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _calamine_rows(name: str, f: IO[bytes], sheet: str | None) -> tuple[str, list[str], Iterator[NumberedRow], int]:
    try:
        with _quiet_stderr():
            workbook = calamine.CalamineWorkbook.from_filelike(f)
            names = list(workbook.sheet_names)
            hidden = {m.name for m in workbook.sheets_metadata if m.visible != calamine.SheetVisibleEnum.Visible}
            chosen = pick_sheet(names, sheet, name, hidden)
            # skip_empty_area=False keeps the rows above the data, so numbers match Excel's.
            data = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    except calamine.PasswordError:
        raise InputFileError(name, "the workbook is password-protected; save an unprotected copy") from None
    except (calamine.CalamineError, calamine.ZipError, calamine.XmlError) as exc:
        raise InputFileError(name, f"is not a readable workbook ({exc})") from None
    except calamine.WorksheetNotFound as exc:
        raise SheetNotFoundError(name, str(exc)) from None
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":  # pyo3's, for a panic in calamine: a BaseException
            raise
        raise InputFileError(name, f"is damaged or not a workbook ({exc})") from None

    def rows() -> Iterator[NumberedRow]:
        for index in range(len(data)):
            yield index + 1, data[index]
            data[index] = []  # rows already read need not stay in memory

    return chosen, names, rows(), len(data)


def _beyond(name: str, where: str, exc: BeyondTheSheet) -> InputFileError:
    return InputFileError(
        name,
        f"{where} has {exc}: no spreadsheet program makes such a cell. Delete it (or copy the data to "
        "a new sheet), or save the sheet as CSV",
    )


def _xlsx_rows(
    name: str, f: IO[bytes], sheet: str | None, *, force: bool = False, header_only: bool = False
) -> tuple[str, list[str], Iterator[NumberedRow], int] | str:
    """Rows of an xlsx sheet too large for calamine, streamed; the name of the sheet (the one
    counted) when calamine can take it (``force``: streamed anyway). ``header_only``: streamed
    without counting the sheet first, for a caller that reads only its first rows (an import whose
    helper process reads the rest)."""
    census: Census | None = None
    try:
        zf = zipfile.ZipFile(f)
        book = read_workbook(zf)
        names = [n for n, _ in book.sheets]
        chosen = pick_sheet(names, sheet, name, book.hidden)
        member = dict(book.sheets)[chosen]
        if not header_only:
            census, shared_cells = count_xlsx_sheet(zf, member, stop_after=CALAMINE_MAX_CELLS)
    except InputFileError:
        raise
    except BeyondTheSheet as exc:
        raise _beyond(name, f"sheet {chosen!r}", exc) from None
    except UNREADABLE as exc:
        raise InputFileError(name, f"is not a readable workbook ({exc})") from None
    if census is not None and census.complete:
        try:
            # calamine copies a shared string into each cell that uses it: counted at each use,
            # unless even the longest string in every such cell would be little.
            lengths = shared_string_lengths(zf) if shared_cells else None
            if lengths and shared_cells * max(lengths) > TEXT_FLOOR // 8:
                census.text = shared_text(zf, member, lengths)
                census.stored += zf.getinfo(
                    next(n for n in zf.namelist() if n.lower() == "xl/sharedstrings.xml")
                ).file_size
        except UNREADABLE as exc:
            raise InputFileError(name, f"is not a readable workbook ({exc})") from None
        refused = refusal(census, name, f"sheet {chosen!r}")
        if refused is not None:
            raise refused
        if not force and census.area <= CALAMINE_MAX_AREA and census.claimed <= CALAMINE_MAX_AREA:
            text = census.text or shared_cells * max(lengths or [0])  # exact, or the bound that was small
            needs = census.area * CELL_BYTES + text * TEXT_FACTOR
            if needs <= CALAMINE_SHARE * DEFAULTS.workbook_memory_mb * 1024 * 1024:
                f.seek(0)
                return chosen
    try:
        styles = date_styles(zf)
        strings = SharedStrings.load(zf)
    except UNREADABLE as exc:
        raise InputFileError(name, f"is not a readable workbook ({exc})") from None

    def check(read: Census) -> None:
        refused = refusal(read, name, f"sheet {chosen!r}")
        if refused is not None:
            raise refused

    def rows() -> Iterator[NumberedRow]:
        try:
            yield from stream_rows(zf, member, strings, styles, book.date1904, check)
        except BeyondTheSheet as exc:
            raise _beyond(name, f"sheet {chosen!r}", exc) from None
        except InputFileError:
            raise
        except UNREADABLE as exc:
            raise InputFileError(name, f"sheet {chosen!r} cannot be read ({exc})") from None
        finally:
            zf.close()

    return chosen, names, rows(), census.rows if census is not None and census.complete else 0


def workbook_format(source: IO[bytes]) -> Format:
    """Which of the workbook formats ``source`` is, from its bytes (never from its name)."""
    source.seek(0)
    if source.read(4) == _CFB_MAGIC:
        source.seek(0)
        return "xls"
    try:
        source.seek(0)
        with zipfile.ZipFile(source) as zf:
            if "mimetype" in zf.NameToInfo or "content.xml" in zf.NameToInfo:
                return "ods"
            return "xlsb" if "xl/workbook.bin" in zf.NameToInfo else "xlsx"
    except zipfile.BadZipFile:
        return "xlsx"  # the reader says what is wrong with it
    finally:
        source.seek(0)


def check_before_loading(kind: Format, name: str, source: IO[bytes], sheet: str | None) -> str | None:
    """Refuse an xls, xlsb or ods that no contact list needs, or that calamine could not hold,
    before calamine builds it (an xlsx is checked by :func:`_xlsx_rows`, which may stream it).
    Returns the xlsb sheet counted (None: every sheet of an xls or ods was)."""
    where = "the workbook"
    chosen = None
    try:
        if kind == "xls":
            census = count_xls(source)
        else:
            with zipfile.ZipFile(source) as zf:
                if kind == "ods":
                    census = count_ods(zf)
                else:
                    hidden: set[str] = set()
                    sheets = xlsb_sheets(zf, hidden)
                    chosen = pick_sheet([n for n, _ in sheets], sheet, name, hidden)
                    where = f"sheet {chosen!r}"
                    census = count_xlsb_sheet(zf, dict(sheets)[chosen])
    except BeyondTheSheet as exc:
        raise _beyond(name, where, exc) from None
    except InputFileError:
        raise
    except (*UNREADABLE, struct.error, IndexError) as exc:
        raise InputFileError(name, f"is not a readable workbook ({exc})") from None
    finally:
        source.seek(0)
    judge(census, name, where)
    return chosen


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
        kind = workbook_format(source)
        if kind != "xls":
            check_zip(source, name)
        xlsx = kind == "xlsx"
        # calamine reads the sheet the census counted, whatever it would pick by itself.
        found = _xlsx_rows(name, source, sheet, header_only=header_only) if xlsx else None
        counted = found if isinstance(found, str) else None if xlsx else check_before_loading(kind, name, source, sheet)
        source.seek(0)
        if found is None or isinstance(found, str):
            try:
                found = _calamine_rows(name, source, counted or sheet)
            except InputFileError:
                raise
            except (OverflowError, ValueError) as exc:
                if not xlsx:
                    raise InputFileError(name, f"has a cell that cannot be read ({exc})") from None
                # calamine cannot convert some cell (a duration of 10^20 days): stream the sheet instead.
                source.seek(0)
                found = _xlsx_rows(name, source, sheet, force=True)
                assert not isinstance(found, str)
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
