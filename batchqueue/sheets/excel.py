"""Excel and OpenDocument reading with calamine (xlsx, xlsm, xlsb, xls, ods).

python-calamine is used directly rather than through ``pandas.read_excel``: it is the same engine,
but pandas drops blank rows (so row numbers would no longer match what Excel shows) and builds a
DataFrame we would only iterate again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import python_calamine as calamine

from batchqueue.errors import InputFileError, SheetNotFoundError
from batchqueue.sheets.cells import cell_text
from batchqueue.sheets.headers import clean_headers
from batchqueue.sheets.table import RawRow, SourceInfo


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
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


class ExcelTable:
    """One sheet of a workbook. Usage: ``ExcelTable.open(path, sheet="Contacts")``."""

    def __init__(self, info: SourceInfo, data: list[list[Any]]) -> None:
        self.info = info
        self.blank_rows = 0
        self._data = data
        self._done = 0
        header_index = 0
        while header_index < len(data) and not any(cell_text(c).strip() for c in data[header_index]):
            header_index += 1
            self.blank_rows += 1
        if header_index == len(data):
            raise InputFileError(info.path, f"sheet {info.sheet!r} is empty")
        self._header_index = header_index
        self.headers = clean_headers([cell_text(c) for c in data[header_index]], info.path)

    @classmethod
    def open(cls, path: Path, sheet: str | None = None) -> ExcelTable:
        name = str(path)
        sha256, size = _sha256(path)
        try:
            workbook = calamine.CalamineWorkbook.from_path(name)
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
        info = SourceInfo(path=name, kind="excel", sha256=sha256, size=size, sheet=chosen, sheets=names)
        return cls(info, data)

    def rows(self) -> Iterator[RawRow]:
        width = len(self.headers)
        data = self._data
        for index in range(self._header_index + 1, len(data)):
            self._done = index
            texts = [cell_text(c) for c in data[index]]
            if not any(texts) or not any(t.strip() for t in texts):
                self.blank_rows += 1
                continue
            if len(texts) < width:
                texts.extend([""] * (width - len(texts)))
            extra = [t for t in texts[width:] if t.strip()]
            yield index + 1, texts[:width], extra
        self._done = len(data)
        self._data = []

    def progress(self) -> tuple[int, int]:
        return self._done, len(self._data) or self._done
