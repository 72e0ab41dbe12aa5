"""Columns named like batchqueue's own report columns (``bq_state``, ``bq_row``…) are not read.

They come from an earlier export, fed back in: read as input they would become metadata sent to
Insight and collide with the report's own columns. They are dropped, and the user is told.

They also mark a CSV file as batchqueue's own (a report, a fix file), whose cells and column names
carry the quote its export added for formula safety: that quote is taken off here, and only here
(:func:`batchqueue.cell_safety.restored`). A ``'`` in any other file is the user's, and stays.
"""

from __future__ import annotations

from collections.abc import Iterator

from batchqueue.cell_safety import restored
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
        self._quoted = table.info.kind == "csv"  # an xlsx export holds every value as it is
        self.headers = [restored(table.headers[i]) if self._quoted else table.headers[i] for i in self._keep]
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
        keep, quoted = self._keep, self._quoted
        for number, cells, overflow in self._table.rows():
            kept = [restored(cells[i]) for i in keep] if quoted else [cells[i] for i in keep]
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
