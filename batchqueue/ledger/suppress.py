"""Rows a campaign rule forbids become ``suppressed`` (guarded by the lifecycle table): the one
writer shared by the do-not-call lists (:mod:`batchqueue.ledger.dnc`) and the re-contact limit
(:mod:`batchqueue.ledger.contacts`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from batchqueue.ledger.batchsql import event_guard, placeholder
from batchqueue.ledger.schema import jobs
from batchqueue.lifecycle import Event, RowState


def suppress_rows(conn: Connection, rows_and_reasons: Sequence[tuple[int, str]], stamp: float) -> None:
    """Each (row id, reasons JSON): the row, if still pending, becomes ``suppressed`` with them."""
    mark = placeholder(conn)
    guard = event_guard([Event.SUPPRESSED], f"'{Event.SUPPRESSED.value}'")
    for row_id, reasons in rows_and_reasons:
        conn.exec_driver_sql(
            f"UPDATE rows SET state = '{RowState.SUPPRESSED.value}', reasons = {mark}, updated_at = {mark} "
            f"WHERE id = {mark} AND {guard}",
            (reasons, stamp, row_id),
        )


def phone_column(conn: Connection, job_id: int) -> str:
    """The job's phone column (suppression reasons name it)."""
    raw = conn.execute(select(jobs.c.mapping).where(jobs.c.id == job_id)).scalar()
    return str(json.loads(raw or "{}").get("phone_column") or "phone")
