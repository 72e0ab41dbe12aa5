"""Held rows: the one writer of holds, their release, and their count by reason.

A hold keeps a pending row from being claimed until ``not_before``, with its reason (a
:class:`~batchqueue.holds.HoldReason`) and its particulars. Claims write them
(``ledger/sending._claim`` for send-time rules, ``ledger/caps`` for a state's cap); each run
releases them at its start; ``Ledger.holds`` counts them by reason from ``ix_rows_held``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from batchqueue.holds import HoldReason, Holds
from batchqueue.ledger.batchsql import placeholder, values_cte
from batchqueue.lifecycle import RowState

_PENDING = RowState.PENDING.value
_HOLD = (("rid", "INTEGER"), ("until_at", "FLOAT"), ("why", "TEXT"), ("detail", "TEXT"))


def hold_pending(conn: Connection, holds: Sequence[tuple[int, float, HoldReason, str | None]]) -> None:
    """Pending rows held: (row id, until when, why, its particulars) each."""
    if not holds:
        return
    data = [(row_id, until, str(reason), detail) for row_id, until, reason, detail in holds]
    cte, params = values_cte(conn, "h", _HOLD, data)
    conn.exec_driver_sql(
        f"{cte} UPDATE rows SET not_before = h.until_at, hold_reason = h.why, hold_detail = h.detail FROM h "
        f"WHERE rows.id = h.rid AND rows.state = '{_PENDING}'",
        tuple(params),
    )


def release_holds(conn: Connection, job_id: int) -> int:
    """Every held row of the job free again (a run's rules decide anew); returns how many."""
    mark = placeholder(conn)
    return int(
        conn.exec_driver_sql(
            f"UPDATE rows SET not_before = NULL, hold_reason = NULL, hold_detail = NULL WHERE job_id = {mark} "
            f"AND state = '{_PENDING}' AND not_before IS NOT NULL",
            (job_id,),
        ).rowcount
        or 0
    )


def count_holds(conn: Connection, job_id: int, now: float) -> Holds:
    """The job's rows held past ``now`` by reason, each reason with its earliest ``not_before`` and
    that row's particulars: one statement (the groups from ``ix_rows_held``, then one row each).
    A hold with no reason (none is written since migration 0015) is counted without particulars."""
    mark = placeholder(conn)
    held = f"job_id = {mark} AND state = '{_PENDING}' AND not_before IS NOT NULL AND not_before > {mark}"
    earliest = (
        f"SELECT r.hold_detail FROM rows r WHERE r.job_id = {mark} AND r.state = '{_PENDING}' "
        "AND r.hold_reason = g.why AND r.not_before = g.first "  # a seek in ix_rows_held
        "ORDER BY r.id LIMIT 1"
    )
    found = conn.exec_driver_sql(
        f"WITH g AS (SELECT hold_reason AS why, COUNT(*) AS n, MIN(not_before) AS first FROM rows "
        f"WHERE {held} GROUP BY hold_reason) SELECT g.why, g.n, g.first, ({earliest}) FROM g",
        (job_id, now, job_id),
    ).all()
    return Holds.of([(why, int(n), first, detail) for why, n, first, detail in found])
