"""The fix file: rows to correct and import again, in one shape wherever they come from.

``check --errors-out`` (every invalid row as it is found) and ``export --as-input`` (a job's
failed and invalid rows, or any states asked for) both write the file's own columns with their
values as read, after two of batchqueue's: ``bq_row`` (the row's number in the original file) and
``bq_reason`` (why it needs fixing). ``import`` ignores every ``bq_`` column and says so, so the
corrected file imports as the original did.

Usage::

    with InvalidRowsWriter(Path("errors.csv"), headers) as out:
        out.write(row_number, cells, reasons)
"""

from __future__ import annotations

import csv
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO

from batchqueue.cell_safety import safe_row
from batchqueue.errors import UsageError
from batchqueue.whole_files import atomic_path

#: The columns batchqueue puts in front of the file's own in a fix file.
FIX_COLUMNS = ["bq_row", "bq_reason"]


def format_reasons(reasons: list[tuple[str | None, str]]) -> str:
    """``column 'Phone': '555' is too short; row: …`` — one line for a report cell."""
    return "; ".join(f"column {col!r}: {why}" if col else why for col, why in reasons)


def fix_row(number: int, reason: str, cells: list[str]) -> list[str]:
    """One row of a fix file, as text (the caller makes it formula-safe for CSV)."""
    return [str(number), reason, *cells]


class InvalidRowsWriter:
    """A CSV fix file (see the module docstring) written as the rows are found.

    The file appears only once it is complete (see :mod:`batchqueue.whole_files`).
    """

    def __init__(self, path: Path, headers: list[str]) -> None:
        self.path = path
        self.headers = headers
        self._stack = ExitStack()
        self._file: IO[str] | None = None

    def __enter__(self) -> InvalidRowsWriter:
        try:
            partial = self._stack.enter_context(atomic_path(self.path))
            self._file = self._stack.enter_context(partial.open("w", encoding="utf-8-sig", newline=""))
        except UsageError as exc:
            self._stack.close()
            raise UsageError(f"--errors-out: {exc}") from None
        self._writer = csv.writer(self._file)
        self._writer.writerow(safe_row([*FIX_COLUMNS, *self.headers]))
        return self

    def write(self, row_number: int, cells: list[str], reasons: list[tuple[str | None, str]]) -> None:
        self._writer.writerow(safe_row(fix_row(row_number, format_reasons(reasons), cells)))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.__exit__(exc_type, exc, tb)
