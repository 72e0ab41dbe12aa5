"""Send-side transitions: claim, record outcomes, recover after a crash, retry and cancel.

Each method is one transaction. The commit protocol (DESIGN.md) rests on two of them:
:meth:`SendingLedger.claim` commits ``sending`` before any request leaves, and
:meth:`SendingLedger.record` commits the outcome before anything is reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, and_, bindparam, insert, select, update

from batchqueue.db import write
from batchqueue.insight import Reply
from batchqueue.models import RowState, attempts, rows

_SENDING = RowState.SENDING.value


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

    def recover_sending(self, job_id: int, *, to: RowState = RowState.UNCERTAIN) -> int:
        """Rows left ``sending`` by a dead process: ``uncertain`` (never resent without an operator)."""
        stamp = time.time()
        with write(self.engine) as conn:
            ids = [
                r[0] for r in conn.execute(select(rows.c.id).where(rows.c.job_id == job_id, rows.c.state == _SENDING))
            ]
            if not ids:
                return 0
            conn.execute(
                update(rows)
                .where(rows.c.id.in_(ids))
                .values(
                    state=to.value,
                    updated_at=stamp,
                    error="found 'sending' when a run started: the process sending it died, "
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
        stamp = time.time()
        with write(self.engine) as conn:
            query = (
                select(
                    rows.c.id,
                    rows.c.row_number,
                    rows.c.phone_number,
                    rows.c.e164,
                    rows.c.start_ts,
                    rows.c.end_ts,
                    rows.c.max_attempts,
                    rows.c.reattempt_wait,
                    rows.c.result_url,
                    rows.c.token,
                    rows.c.cells,
                    rows.c.attempts,
                )
                .where(rows.c.job_id == job_id, rows.c.state == RowState.PENDING.value)
                .order_by(rows.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            found = conn.execute(query).all()
            if not found:
                return []
            ids = [r.id for r in found]
            conn.execute(
                update(rows)
                .where(rows.c.id.in_(ids))
                .values(state=_SENDING, attempts=rows.c.attempts + 1, updated_at=stamp)
            )
            conn.execute(insert(attempts), [{"row_id": i, "job_id": job_id, "started_at": stamp} for i in ids])
        return [
            Claimed(
                r.id,
                r.row_number,
                r.phone_number,
                r.e164,
                r.start_ts,
                r.end_ts,
                r.max_attempts,
                r.reattempt_wait,
                r.result_url,
                r.token,
                json.loads(r.cells),
                r.attempts + 1,
            )
            for r in found
        ]

    def release(self, row_ids: Sequence[int]) -> None:
        """Claimed rows whose request never left: back to ``pending`` (only safe when that is certain)."""
        if not row_ids:
            return
        stamp = time.time()
        with write(self.engine) as conn:
            conn.execute(
                update(rows)
                .where(rows.c.id.in_(row_ids), rows.c.state == _SENDING)
                .values(state=RowState.PENDING.value, attempts=rows.c.attempts - 1, updated_at=stamp)
            )
            conn.execute(attempts.delete().where(attempts.c.row_id.in_(row_ids), attempts.c.outcome.is_(None)))

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Commit the outcomes of several rows in one transaction (one fsync for the batch)."""
        if not outcomes:
            return
        stamp = time.time()
        row_updates: list[dict[str, Any]] = []
        first_tries: list[dict[str, Any]] = []
        later_tries: list[dict[str, Any]] = []
        for o in outcomes:
            row_updates.append(
                {
                    "rid": o.row_id,
                    "state": o.state.value,
                    "call_id": o.call_id,
                    "error": o.error,
                    "http_status": o.http_status,
                    "updated_at": stamp,
                    "extra": max(0, len(o.tries) - 1),
                }
            )
            for n, reply in enumerate(o.tries):
                values = {
                    "finished_at": reply.finished or stamp,
                    "outcome": reply.kind.value,
                    "http_status": reply.status,
                    "call_id": reply.call_id,
                    "error": reply.error,
                }
                if n == 0:
                    first_tries.append({"rid": o.row_id, **values})
                else:
                    later_tries.append({"row_id": o.row_id, "started_at": reply.started or stamp, **values})
        with write(self.engine) as conn:
            conn.execute(
                update(rows)
                .where(and_(rows.c.id == bindparam("rid"), rows.c.state == _SENDING))
                .values(
                    state=bindparam("state"),
                    call_id=bindparam("call_id"),
                    error=bindparam("error"),
                    http_status=bindparam("http_status"),
                    updated_at=bindparam("updated_at"),
                    attempts=rows.c.attempts + bindparam("extra"),
                ),
                row_updates,
            )
            if first_tries:
                conn.execute(
                    update(attempts)
                    .where(and_(attempts.c.row_id == bindparam("rid"), attempts.c.outcome.is_(None)))
                    .values(
                        finished_at=bindparam("finished_at"),
                        outcome=bindparam("outcome"),
                        http_status=bindparam("http_status"),
                        call_id=bindparam("call_id"),
                        error=bindparam("error"),
                    ),
                    first_tries,
                )
            if later_tries:
                job_of = dict(
                    conn.execute(
                        select(rows.c.id, rows.c.job_id).where(rows.c.id.in_({t["row_id"] for t in later_tries}))
                    ).all()
                )
                conn.execute(insert(attempts), [{**t, "job_id": job_of[t["row_id"]]} for t in later_tries])

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
                .values(
                    state=RowState.PENDING.value, call_id=None, error=None, http_status=None, updated_at=time.time()
                )
            )
        return int(result.rowcount or 0)

    def cancel_pending(self, job_id: int) -> int:
        """Pending rows become ``canceled``; they will not be sent."""
        with write(self.engine) as conn:
            result = conn.execute(
                update(rows)
                .where(rows.c.job_id == job_id, rows.c.state == RowState.PENDING.value)
                .values(state=RowState.CANCELED.value, updated_at=time.time())
            )
        return int(result.rowcount or 0)
