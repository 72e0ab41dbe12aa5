"""Columns named like batchqueue's own report columns (``bq_state``, ``bq_row``…) are not read.

They come from an earlier export, fed back in: read as input they would become metadata sent to
Insight and collide with the report's own columns. They are dropped, and the user is told.
"""

from __future__ import annotations

from collections.abc import Iterator

from batchqueue.intake.sheets.table import RawRow, SourceInfo, Table

REPORT_PREFIX = "bq_"


def is_report_column(name: str) -> bool:
    return name.strip().lower().startswith(REPORT_PREFIX)


class WithoutReportColumns:
    """``table`` without its ``bq_…`` columns (see the module docstring)."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._keep = [i for i, name in enumerate(table.headers) if not is_report_column(name)]
        self._skipped = 0
        dropped = [name for name in table.headers if is_report_column(name)]
        self.info: SourceInfo = table.info
        self.headers = [table.headers[i] for i in self._keep]
        self.warnings = table.warnings
        self.header_row = table.header_row
        self.skipped = table.skipped
        self.warnings.append(
            f"ignored {len(dropped)} column(s) named like batchqueue's own report columns "
            f"({', '.join(repr(d) for d in dropped)}): they come from an earlier export and are not read"
        )

    @property
    def blank_rows(self) -> int:
        return self._table.blank_rows + self._skipped

    def rows(self) -> Iterator[RawRow]:
        keep = self._keep
        for number, cells, overflow in self._table.rows():
            kept = [cells[i] for i in keep]
            if not any(cell.strip() for cell in kept) and not overflow:
                self._skipped += 1  # nothing of the user's in it: a blank row once bq_ cells are gone
                continue
            yield number, kept, overflow

    def progress(self) -> tuple[int, int]:
        return self._table.progress()

    def close(self) -> None:
        self._table.close()

    def __enter__(self) -> WithoutReportColumns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
