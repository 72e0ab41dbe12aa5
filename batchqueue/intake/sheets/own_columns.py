"""A file batchqueue exported, fed back in: its own columns are not read, and its quotes come off.

Two shapes are batchqueue's own: a report or a fix file (columns named like ``bq_state``,
``bq_row``…) and a ``dnc export`` (exactly ``phone,list,added_at,source``).

- ``bq_`` columns are dropped, and the user is told: read as input they would become metadata sent
  to Insight and collide with the report's own columns.
- In such a CSV file every cell and column name that starts with ``'`` carries the quote the
  export added for formula safety: it is taken off here, and only here
  (:func:`batchqueue.cell_safety.restored`). A ``'`` in any other file is the user's, and stays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from batchqueue.cell_safety import restored
from batchqueue.intake.sheets.table import RawRow, SourceInfo, Table

REPORT_PREFIX = "bq_"
#: The header ``dnc export`` writes.
DNC_EXPORT_HEADER = ("phone", "list", "added_at", "source")


def is_report_column(name: str) -> bool:
    return name.strip().lower().startswith(REPORT_PREFIX)


def exported_by_batchqueue(headers: Sequence[str]) -> bool:
    """Whether a table with these column names is one batchqueue wrote (see the module docstring)."""
    return tuple(headers) == DNC_EXPORT_HEADER or any(is_report_column(name) for name in headers)


class FromAnExport:
    """``table``, a file batchqueue exported, as its export began (see the module docstring)."""

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
        if dropped:
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

    def __enter__(self) -> FromAnExport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
