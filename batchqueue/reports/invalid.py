"""The ``check --errors-out`` CSV: every invalid row with its reasons.

Usage::

    with InvalidRowsWriter(Path("errors.csv"), headers) as out:
        out.write(row_number, cells, reasons)
"""

from __future__ import annotations

import csv
from pathlib import Path
from types import TracebackType
from typing import IO

from batchqueue.errors import UsageError
from batchqueue.reports.cells import safe_cell


def format_reasons(reasons: list[tuple[str | None, str]]) -> str:
    """``column 'Phone': '555' is too short; row: …`` — one line for a report cell."""
    return "; ".join(f"column {col!r}: {why}" if col else why for col, why in reasons)


class InvalidRowsWriter:
    """A CSV of rejected rows: their row number, every reason, then the original cells."""

    def __init__(self, path: Path, headers: list[str]) -> None:
        self.path = path
        self.headers = headers
        self._file: IO[str] | None = None

    def __enter__(self) -> InvalidRowsWriter:
        try:
            self._file = self.path.open("w", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise UsageError(f"--errors-out {self.path}: cannot write ({exc.strerror or exc})") from None
        self._writer = csv.writer(self._file)
        self._writer.writerow([safe_cell(h) for h in ["row", "reasons", *self.headers]])
        return self

    def write(self, row_number: int, cells: list[str], reasons: list[tuple[str | None, str]]) -> None:
        self._writer.writerow([row_number, safe_cell(format_reasons(reasons)), *map(safe_cell, cells)])

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            self._file.close()
