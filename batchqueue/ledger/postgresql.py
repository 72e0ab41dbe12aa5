"""The PostgreSQL ledger: many workers on one job, claims with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert

from batchqueue.ledger.jobs import batches
from batchqueue.ledger.records import NewRow
from batchqueue.ledger.schema import rows
from batchqueue.ledger.store import Ledger


class PostgresLedger(Ledger):
    """A ledger in a PostgreSQL database, shared by any number of workers."""

    backend = "postgresql"

    def _insert_rows(self, conn: Connection, job_id: int, new_rows: Iterable[NewRow]) -> None:
        for batch in batches(new_rows):
            conn.execute(insert(rows), [{"job_id": job_id, **r._asdict()} for r in batch])

    def _lock(self, *, skip_locked: bool) -> str:
        # Rows another worker is claiming or settling right now are skipped, not waited for.
        return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"

    def _greatest(self, column: ColumnElement[float], value: float) -> ColumnElement[float]:
        return func.greatest(column, value)

    def _cursor(self, conn: Connection, name: str) -> Any:
        # A server-side cursor, or psycopg would fetch the whole job into memory.
        return conn.connection.dbapi_connection.cursor(name=name)  # type: ignore[union-attr]
