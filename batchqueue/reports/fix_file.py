"""The ``check --errors-out`` CSV: every invalid row with its reasons.

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

from batchqueue.errors import UsageError
from batchqueue.reports.cells import safe_row
from batchqueue.whole_files import atomic_path


def format_reasons(reasons: list[tuple[str | None, str]]) -> str:
    """``column 'Phone': '555' is too short; row: …`` — one line for a report cell."""
    return "; ".join(f"column {col!r}: {why}" if col else why for col, why in reasons)


class InvalidRowsWriter:
    """A CSV of rejected rows: their row number, every reason, then the original cells.

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
        self._writer.writerow(safe_row(["row", "reasons", *self.headers]))
        return self

    def write(self, row_number: int, cells: list[str], reasons: list[tuple[str | None, str]]) -> None:
        self._writer.writerow([row_number, *safe_row([format_reasons(reasons), *cells])])

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.__exit__(exc_type, exc, tb)
