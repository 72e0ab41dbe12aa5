"""Rows a campaign rule forbids become ``suppressed``: the one writer of that state, batched,
guarded by the lifecycle table and counted.

Every rule that suppresses goes through :func:`suppress_rows`, at import and in each claim: the
do-not-call lists (:mod:`batchqueue.ledger.dnc`), the re-contact limits
(:mod:`batchqueue.ledger.contacts`) and the job's own cap (:mod:`batchqueue.ledger.caps`). A rule
finds its rows among those :data:`SUPPRESSIBLE` (the states the table lets ``suppressed`` move a
row from), and is told how many it really moved.

Usage::

    moved = suppress_rows(conn, [(row_id, '[["phone","dnc:optouts"]]')], time.time())
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from batchqueue.ledger.batchsql import placeholder, states_sql, values_cte
from batchqueue.ledger.schema import jobs
from batchqueue.lifecycle import Event, allowed_from, target

#: Rows suppressed per statement (two bound values each: far below every backend's limit).
_BATCH = 5000
#: The states a rule may suppress a row from, as SQL (``('pending')``): where a rule looks for rows.
SUPPRESSIBLE = states_sql(allowed_from(Event.SUPPRESSED))


def suppress_rows(conn: Connection, rows_and_reasons: Sequence[tuple[int, str]], stamp: float) -> int:
    """Each (row id, reasons JSON): the row, if its state still allows it, becomes ``suppressed``
    with them (one statement per batch: a re-import can suppress every row of a large file).
    Returns how many rows it moved; a row found elsewhere is left as it is."""
    mark = placeholder(conn)
    moved = 0
    for start in range(0, len(rows_and_reasons), _BATCH):
        batch = rows_and_reasons[start : start + _BATCH]
        cte, params = values_cte(conn, "s", (("rid", "INTEGER"), ("why", "TEXT")), batch)
        moved += len(
            conn.exec_driver_sql(  # RETURNING: sqlite3 gives no rowcount for a statement that starts WITH
                f"{cte} UPDATE rows SET state = '{target(Event.SUPPRESSED).value}', reasons = s.why, "
                f"updated_at = {mark} FROM s WHERE rows.id = s.rid AND rows.state IN {SUPPRESSIBLE} RETURNING rows.id",
                (*params, stamp),
            ).all()
        )
    return moved


def phone_column(conn: Connection, job_id: int) -> str:
    """The job's phone column (suppression reasons name it)."""
    raw = conn.execute(select(jobs.c.mapping).where(jobs.c.id == job_id)).scalar()
    return str(json.loads(raw or "{}").get("phone_column") or "phone")
