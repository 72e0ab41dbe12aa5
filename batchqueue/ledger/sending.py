"""Send-side transitions: claim, record outcomes, recover after a crash, retry and cancel.

Each public method is one transaction. The commit protocol (DESIGN.md) rests on :meth:`settle`:
it commits the outcomes of finished rows *and* marks the next rows ``sending`` in one
transaction, before any of those outcomes is reported and before any of those rows is sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update

from batchqueue.insight.client import Reply
from batchqueue.ledger.batchsql import in_list, multi_values, placeholder, values_cte
from batchqueue.ledger.database import write
from batchqueue.ledger.schema import RowState, attempts, rows

_SENDING = RowState.SENDING.value
_PENDING = RowState.PENDING.value
_CLAIM_COLUMNS = (
    "id, row_number, phone_number, e164, start_ts, end_ts, max_attempts, reattempt_wait, result_url, token, "
    "cells, attempts"
)
_ROW_OUTCOME = (
    ("rid", "INTEGER"),
    ("state", "VARCHAR(16)"),
    ("call_id", "TEXT"),
    ("error", "TEXT"),
    ("http_status", "INTEGER"),
    ("extra", "INTEGER"),
)
_TRY_OUTCOME = (
    ("rid", "INTEGER"),
    ("finished_at", "FLOAT"),
    ("outcome", "VARCHAR(16)"),
    ("http_status", "INTEGER"),
    ("call_id", "TEXT"),
    ("error", "TEXT"),
)


@dataclass(frozen=True)
class Claimed:
    """A row now ``sending``, with what is needed to build its request."""

    row_id: int
    row_number: int
    phone_number: str
    e164: str
    start_ts: int | None
    end_ts: int | None
    max_attempts: int | None
    reattempt_wait: int | None
    result_url: str | None
    token: str | None
    cells: list[str]
    attempts: int


@dataclass
class Outcome:
    """What became of one claimed row: its new state and every network attempt it took."""

    row_id: int
    state: RowState
    tries: list[Reply] = field(default_factory=list)
    call_id: str | None = None
    error: str | None = None
    http_status: int | None = None


class SendingLedger:
    """The send side of the ledger (see :class:`batchqueue.ledger.Ledger`)."""

    engine: Engine

    def recover_sending(self, job_id: int, *, to: RowState = RowState.UNCERTAIN, expired_only: bool = False) -> int:
        """Rows left ``sending`` by a dead process: ``uncertain`` (never resent without an operator).

        ``expired_only`` (many workers): only rows whose lease has run out; the others belong to
        live workers.
        """
        stamp = time.time()
        condition = and_(rows.c.job_id == job_id, rows.c.state == _SENDING)
        if expired_only:
            condition = and_(condition, or_(rows.c.lease_expires.is_(None), rows.c.lease_expires < stamp))
        with write(self.engine) as conn:
            query = select(rows.c.id).where(condition)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # rows a live worker is settling right now
            ids = [r[0] for r in conn.execute(query)]
            if not ids:
                return 0
            conn.execute(
                update(rows)
                .where(rows.c.id.in_(ids), condition)
                .values(
                    state=to.value,
                    updated_at=stamp,
                    lease_owner=None,
                    error="found 'sending' with no live sender: the process sending it died, "
                    "so Insight may or may not have queued it",
                )
            )
            conn.execute(
                update(attempts)
                .where(attempts.c.row_id.in_(ids), attempts.c.outcome.is_(None))
                .values(outcome="lost", finished_at=stamp, error="the sending process died")
            )
        return len(ids)

    def claim(self, job_id: int, limit: int) -> list[Claimed]:
        """Up to ``limit`` pending rows, in input order, marked ``sending`` and COMMITTED, with an
        open attempt each. Nothing may be sent for a row before this returns it."""
        return self.settle(job_id, [], [], limit)

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Commit the outcomes of several rows in one transaction (one fsync for the batch)."""
        if outcomes:
            self.settle(0, outcomes, [], 0)

    def release(self, row_ids: Sequence[int]) -> None:
        """Claimed rows whose request never left: back to ``pending`` (only safe when that is certain)."""
        if row_ids:
            self.settle(0, [], row_ids, 0)

    def settle(
        self,
        job_id: int,
        outcomes: Sequence[Outcome],
        release_ids: Sequence[int],
        claim_limit: int,
        *,
        owner: str | None = None,
        lease_ttl: float = 60.0,
    ) -> list[Claimed]:
        """Record ``outcomes``, release never-sent rows, and claim up to ``claim_limit`` more of
        ``job_id`` — all in ONE transaction, so a busy run pays one commit per round."""
        stamp = time.time()
        with write(self.engine) as conn:
            if outcomes:
                _record(conn, outcomes, stamp)
            if release_ids:
                _release(conn, release_ids, stamp)
            return _claim(conn, job_id, claim_limit, stamp, owner, stamp + lease_ttl) if claim_limit > 0 else []

    def retry_rows(
        self,
        job_id: int,
        *,
        failed: bool = True,
        uncertain: bool = False,
        status_code: int | None = None,
        error_contains: str | None = None,
    ) -> int:
        """Put failed (and, only when asked, uncertain) rows back to ``pending``; returns how many."""
        states = ([RowState.FAILED.value] if failed else []) + ([RowState.UNCERTAIN.value] if uncertain else [])
        if not states:
            return 0
        condition = and_(rows.c.job_id == job_id, rows.c.state.in_(states))
        if status_code is not None:
            condition = and_(condition, rows.c.http_status == status_code)
        if error_contains:
            condition = and_(condition, rows.c.error.contains(error_contains, autoescape=True))
        with write(self.engine) as conn:
            result = conn.execute(
                update(rows)
                .where(condition)
                .values(state=_PENDING, call_id=None, error=None, http_status=None, updated_at=time.time())
            )
        return int(result.rowcount or 0)

    def cancel_pending(self, job_id: int) -> int:
        """Pending rows become ``canceled``; they will not be sent."""
        with write(self.engine) as conn:
            result = conn.execute(
                update(rows)
                .where(rows.c.job_id == job_id, rows.c.state == _PENDING)
                .values(state=RowState.CANCELED.value, updated_at=time.time())
            )
        return int(result.rowcount or 0)


def _claim(conn: Connection, job_id: int, limit: int, stamp: float, owner: str | None, expires: float) -> list[Claimed]:
    mark = placeholder(conn)
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    found = conn.exec_driver_sql(
        f"SELECT {_CLAIM_COLUMNS} FROM rows WHERE job_id = {mark} AND state = {mark} ORDER BY id LIMIT {mark}{lock}",
        (job_id, _PENDING, limit),
    ).all()
    if not found:
        return []
    ids = [r[0] for r in found]
    conn.exec_driver_sql(
        f"UPDATE rows SET state = {mark}, attempts = attempts + 1, updated_at = {mark}, lease_owner = {mark}, "
        f"lease_expires = {mark} WHERE id IN {in_list(conn, len(ids))}",
        (_SENDING, stamp, owner, expires, *ids),
    )
    params: list[Any] = []
    for row_id in ids:
        params += (row_id, job_id, stamp)
    conn.exec_driver_sql(
        f"INSERT INTO attempts (row_id, job_id, started_at) VALUES {multi_values(conn, 3, len(ids))}", tuple(params)
    )
    return [
        Claimed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], json.loads(r[10]), r[11] + 1) for r in found
    ]


def _release(conn: Connection, row_ids: Sequence[int], stamp: float) -> None:
    mark = placeholder(conn)
    ids = in_list(conn, len(row_ids))
    conn.exec_driver_sql(
        f"UPDATE rows SET state = {mark}, attempts = attempts - 1, updated_at = {mark} "
        f"WHERE id IN {ids} AND state = {mark}",
        (_PENDING, stamp, *row_ids, _SENDING),
    )
    conn.exec_driver_sql(f"DELETE FROM attempts WHERE row_id IN {ids} AND outcome IS NULL", tuple(row_ids))


def _record(conn: Connection, outcomes: Sequence[Outcome], stamp: float) -> None:
    mark = placeholder(conn)
    row_data: list[tuple[Any, ...]] = []
    first_tries: list[tuple[Any, ...]] = []
    later_tries: list[Any] = []
    for o in outcomes:
        row_data.append((o.row_id, o.state.value, o.call_id, o.error, o.http_status, max(0, len(o.tries) - 1)))
        for n, reply in enumerate(o.tries):
            finished = reply.finished or stamp
            if n == 0:
                first_tries.append((o.row_id, finished, reply.kind.value, reply.status, reply.call_id, reply.error))
            else:
                later_tries += (
                    o.row_id,
                    o.row_id,
                    reply.started or stamp,
                    finished,
                    reply.kind.value,
                    reply.status,
                    reply.call_id,
                    reply.error,
                )
    with_rows, params = values_cte(conn, "v", _ROW_OUTCOME, row_data)
    conn.exec_driver_sql(
        # A callback that arrived before this reply (possible for a slow reply) already proved
        # the call was queued: an ambiguous reply must not turn that row uncertain.
        f"{with_rows} UPDATE rows SET state = CASE WHEN v.state = '{RowState.UNCERTAIN.value}' "
        f"AND rows.outcome_status IS NOT NULL THEN '{RowState.QUEUED.value}' ELSE v.state END, "
        "call_id = v.call_id, error = v.error, "
        f"http_status = v.http_status, updated_at = {mark}, attempts = rows.attempts + v.extra "
        f"FROM v WHERE rows.id = v.rid AND rows.state = {mark}",
        (*params, stamp, _SENDING),
    )
    if first_tries:
        with_tries, params = values_cte(conn, "t", _TRY_OUTCOME, first_tries)
        conn.exec_driver_sql(
            f"{with_tries} UPDATE attempts SET finished_at = t.finished_at, outcome = t.outcome, "
            "http_status = t.http_status, call_id = t.call_id, error = t.error "
            "FROM t WHERE attempts.row_id = t.rid AND attempts.outcome IS NULL",
            tuple(params),
        )
    if later_tries:
        count = len(later_tries) // 8
        row_sql = f"((SELECT job_id FROM rows WHERE id = {mark}), {', '.join([mark] * 7)})"
        conn.exec_driver_sql(
            "INSERT INTO attempts (job_id, row_id, started_at, finished_at, outcome, http_status, call_id, error) "
            f"VALUES {', '.join([row_sql] * count)}",
            tuple(later_tries),
        )
