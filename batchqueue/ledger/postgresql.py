"""The PostgreSQL ledger: many workers on one job, claims with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert

from batchqueue.ledger.records import BARE, IMPORT_COLUMNS, PLAIN, PLAIN_COLUMNS, SHARED_COLUMNS, RowRun, mint_tokens
from batchqueue.ledger.schema import rows
from batchqueue.ledger.store import Ledger
from batchqueue.lifecycle import IMPORTED

_PENDING = IMPORTED.value


class PostgresLedger(Ledger):
    """A ledger in a PostgreSQL database, shared by any number of workers."""

    backend = "postgresql"

    def _insert_rows(self, conn: Connection, job_id: int, runs: Iterable[RowRun]) -> None:
        for run in runs:
            if run.shape == BARE:
                numbers, cells, e164s = run.rows
                shared = dict(zip(("created_at", *SHARED_COLUMNS), run.shared, strict=True))
                values = [
                    {"job_id": job_id, "state": _PENDING, "row_number": n, "cells": c, "e164": e,
                     "phone_number": "tel:" + e, "token": t, **shared}
                    for n, c, e, t in zip(numbers, cells, e164s, mint_tokens(len(numbers)), strict=True)
                ]  # fmt: skip
            elif run.shape == PLAIN:
                values = [
                    {"job_id": job_id, "state": _PENDING, **dict(zip(PLAIN_COLUMNS, r, strict=True))} for r in run.rows
                ]
            else:
                values = [{"job_id": job_id, **dict(zip(IMPORT_COLUMNS, r, strict=True))} for r in run.rows]
            conn.execute(insert(rows), values)

    def _lock(self, *, skip_locked: bool) -> str:
        # Rows another worker is claiming or settling right now are skipped, not waited for.
        return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"

    def _greatest(self, column: ColumnElement[float], value: float) -> ColumnElement[float]:
        return func.greatest(column, value)

    def _cursor(self, conn: Connection, name: str) -> Any:
        # A server-side cursor, or psycopg would fetch the whole job into memory.
        return conn.connection.dbapi_connection.cursor(name=name)  # type: ignore[union-attr]
