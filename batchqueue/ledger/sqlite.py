"""The SQLite ledger: one file, writes serialised by SQLite's own lock (BEGIN IMMEDIATE)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, func

from batchqueue.ledger.jobs import batches
from batchqueue.ledger.records import IMPORT_COLUMNS, NewRow
from batchqueue.ledger.store import Ledger

# Only constants and the integer job id are formatted in; every value is bound.
_INSERT = (
    f"INSERT INTO rows (job_id, {', '.join(IMPORT_COLUMNS)}) "
    f"VALUES ({{job_id}}, {', '.join('?' * len(IMPORT_COLUMNS))})"
)


class SQLiteLedger(Ledger):
    """A ledger in an SQLite file."""

    backend = "sqlite"

    def _insert_rows(self, conn: Connection, job_id: int, new_rows: Iterable[NewRow]) -> None:
        # Raw executemany inside SQLAlchemy's transaction: ~3x SQLAlchemy Core's insert rate.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        sql = _INSERT.format(job_id=int(job_id))
        try:
            for batch in batches(new_rows):
                cursor.executemany(sql, batch)
        finally:
            cursor.close()

    def _greatest(self, column: ColumnElement[float], value: float) -> ColumnElement[float]:
        return func.max(column, value)  # SQLite's two-argument max() is its GREATEST

    def _cursor(self, conn: Connection, name: str) -> Any:
        return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
