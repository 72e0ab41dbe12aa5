"""Rows a campaign rule forbids become ``suppressed`` (guarded by the lifecycle table): the one
writer shared by the do-not-call lists (:mod:`batchqueue.ledger.dnc`) and the re-contact limit
(:mod:`batchqueue.ledger.contacts`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from batchqueue.ledger.batchsql import event_guard, placeholder, values_cte
from batchqueue.ledger.schema import jobs
from batchqueue.lifecycle import Event, RowState

#: Rows suppressed per statement (two bound values each: far below every backend's limit).
_BATCH = 5000


def suppress_rows(conn: Connection, rows_and_reasons: Sequence[tuple[int, str]], stamp: float) -> None:
    """Each (row id, reasons JSON): the row, if still pending, becomes ``suppressed`` with them
    (one statement per batch: a re-import can suppress every row of a large file)."""
    mark = placeholder(conn)
    guard = event_guard([Event.SUPPRESSED], f"'{Event.SUPPRESSED.value}'")
    for start in range(0, len(rows_and_reasons), _BATCH):
        batch = rows_and_reasons[start : start + _BATCH]
        cte, params = values_cte(conn, "s", (("rid", "INTEGER"), ("why", "TEXT")), batch)
        conn.exec_driver_sql(
            f"{cte} UPDATE rows SET state = '{RowState.SUPPRESSED.value}', reasons = s.why, updated_at = {mark} "
            f"FROM s WHERE rows.id = s.rid AND {guard}",
            (*params, stamp),
        )


def phone_column(conn: Connection, job_id: int) -> str:
    """The job's phone column (suppression reasons name it)."""
    raw = conn.execute(select(jobs.c.mapping).where(jobs.c.id == job_id)).scalar()
    return str(json.loads(raw or "{}").get("phone_column") or "phone")
