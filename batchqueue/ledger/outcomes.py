"""Outcome-side transitions: callbacks and polled statuses recorded, uncertain rows reconciled."""

from __future__ import annotations

import hmac
import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, and_, delete, insert, or_, select, update

from batchqueue.call_outcome import FINAL, CallDetails
from batchqueue.ledger.batchsql import in_list, placeholder, states_sql, values_cte
from batchqueue.ledger.contacts import relog_contacts
from batchqueue.ledger.database import write
from batchqueue.ledger.records import Unproven
from batchqueue.ledger.schema import outcome_events, rows, spool_positions
from batchqueue.lifecycle import (
    CallbackDecision,
    CallbackVerdict,
    Event,
    RowState,
    allowed_from,
    callback_decision,
    proves_queued,
    target,
)
from batchqueue.untrusted import storable

_OUTCOME = (
    ("rid", "INTEGER"),
    ("prev", "VARCHAR(16)"),
    ("state", "VARCHAR(16)"),
    ("take", "INTEGER"),
    ("status", "VARCHAR(64)"),
    ("attempts", "INTEGER"),
    ("last_at", "INTEGER"),
    ("source", "VARCHAR(16)"),
    ("payload", "TEXT"),
    ("resolution", "TEXT"),
)
#: Outcomes polling stops at: the final ones, and "not_found" (Insight answered 404 for the call id).
SETTLED = FINAL | {"not_found"}
_PROVEN_FROM = states_sql(allowed_from(Event.PROVEN))


class OutcomesLedger:
    """The outcome side of the ledger (see :class:`batchqueue.ledger.Ledger`)."""

    engine: Engine

    def apply_outcomes(
        self, items: Sequence[tuple[int, str | None, CallDetails]], *, source: str, spool: tuple[str, int] | None = None
    ) -> list[str]:
        """Record outcomes for (row id, token or None, details); per item a verdict
        (:class:`~batchqueue.lifecycle.CallbackVerdict`).

        "unknown": no such row, or the token does not match (compared in constant time; polls pass
        None). Otherwise :func:`~batchqueue.lifecycle.callback_decision` decides: "recorded",
        "proven" (not news as an outcome, but it proves the call was queued for a row that was
        uncertain, failed, pending or canceled), "unchanged", or "conflict" (a different final
        outcome after a final one: the first stands; the later one is kept in ``outcome_events``
        and counted on the row). Several outcomes for one row in one batch are decided in order,
        each on what the one before left.

        ``spool`` (a callback spool's id and the position up to which these items came from it) is
        stored in the same transaction, so a spool is applied exactly once.
        """
        if not items:
            return []
        stamp = time.time()
        verdicts: list[str] = []
        # One UPDATE row per ledger row: an UPDATE … FROM with two source rows for one target row
        # applies an arbitrary one, so several outcomes for a row in one batch are folded here.
        updates: dict[int, _Update] = {}
        conflicts: Counter[int] = Counter()
        events: list[dict[str, Any]] = []
        with write(self.engine) as conn:
            # Locked (PostgreSQL) so that no worker settles these rows between this read and the update.
            query = select(rows.c.id, rows.c.job_id, rows.c.token, rows.c.state, rows.c.outcome_status).where(
                rows.c.id.in_(sorted({row_id for row_id, _, _ in items}))
            )
            found = {r.id: r for r in conn.execute(query.with_for_update())}
            current = {row_id: (r.state, r.outcome_status) for row_id, r in found.items()}
            for row_id, token, details in items:
                record = found.get(row_id)
                if record is None or not _token_matches(record.token, token):
                    verdicts.append(CallbackVerdict.UNKNOWN.value)
                    continue
                state, status = current[row_id]
                decision = callback_decision(state, status, details.status)
                verdicts.append(decision.verdict.value)
                if decision.verdict is CallbackVerdict.UNCHANGED:
                    continue
                payload = json.dumps(details.raw, ensure_ascii=False, default=str)[:65536]
                if decision.takes or decision.verdict is CallbackVerdict.CONFLICT:
                    events.append(
                        {
                            "row_id": row_id,
                            "job_id": record.job_id,
                            "received_at": stamp,
                            "source": source,
                            "status": details.status,
                            "verdict": decision.verdict.value,
                            "payload": payload,
                        }
                    )
                if decision.verdict is CallbackVerdict.CONFLICT:
                    conflicts[row_id] += 1
                    continue
                row = (row_id, record.state, state)
                updates[row_id] = folded = _folded(updates.get(row_id), row, decision, details, (source, payload))
                current[row_id] = (folded.state, details.status if decision.takes else status)
            if updates:
                _write_outcomes(conn, list(updates.values()), stamp)
                # A call proven queued (a callback or a status reply) counts for re-contact
                # protection and the caps, even where its claim's history was given back.
                queued = RowState.QUEUED.value
                relog_contacts(conn, [u.rid for u in updates.values() if u.state == queued and u.prev != queued], stamp)
            for row_id, n in conflicts.items():
                conn.execute(
                    update(rows).where(rows.c.id == row_id).values(outcome_conflicts=rows.c.outcome_conflicts + n)
                )
            if events:
                conn.execute(insert(outcome_events), events)
            if spool is not None:
                _store_spool_position(conn, *spool, stamp)
        return verdicts

    def record_outcome_errors(self, items: Sequence[tuple[int, str, str]], *, source: str) -> None:
        """Keep (row id, what was wrong, the report as received) for reports that could not be read."""
        if not items:
            return
        stamp = time.time()
        with write(self.engine) as conn:
            query = select(rows.c.id, rows.c.job_id).where(rows.c.id.in_(sorted({i for i, _, _ in items})))
            jobs_of = {r.id: r.job_id for r in conn.execute(query)}
            conn.execute(
                insert(outcome_events),
                [
                    {
                        "row_id": row_id,
                        "job_id": jobs_of[row_id],
                        "received_at": stamp,
                        "source": source,
                        "verdict": "error",
                        "detail": storable(detail[:1000]),
                        "payload": storable(payload[:65536]),
                    }
                    for row_id, detail, payload in items
                    if row_id in jobs_of
                ],
            )

    def spool_position(self, spool_id: str) -> int:
        """How many bytes of the callback spool ``spool_id`` this ledger has applied."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(spool_positions.c.position).where(spool_positions.c.spool_id == spool_id)
            ).scalar()
        return int(found or 0)

    def forget_spool(self, spool_id: str) -> None:
        """A spool fully applied and removed: its position is no longer needed."""
        with write(self.engine) as conn:
            conn.execute(delete(spool_positions).where(spool_positions.c.spool_id == spool_id))

    def outcome_history(self, row_id: int) -> list[dict[str, Any]]:
        """Every outcome report kept for a row, oldest first."""
        query = select(outcome_events).where(outcome_events.c.row_id == row_id).order_by(outcome_events.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def token_matches(self, row_id: int, token: str) -> bool:
        """Whether ``token`` is row ``row_id``'s callback secret (constant-time comparison)."""
        with self.engine.connect() as conn:
            stored = conn.execute(select(rows.c.token).where(rows.c.id == row_id)).scalar()
        return bool(stored) and hmac.compare_digest(str(stored).encode(), token.encode())

    def poll_candidates(self, job_id: int) -> list[tuple[int, str]]:
        """(row id, call id) of queued rows whose outcome is not final yet."""
        query = (
            select(rows.c.id, rows.c.call_id)
            .where(
                rows.c.job_id == job_id,
                rows.c.state == RowState.QUEUED.value,
                rows.c.call_id.is_not(None),
                or_(rows.c.outcome_status.is_(None), rows.c.outcome_status.not_in(sorted(SETTLED))),
            )
            .order_by(rows.c.id)
        )
        with self.engine.connect() as conn:
            return [(r.id, r.call_id) for r in conn.execute(query)]

    def unproven(self, job_id: int, *, grace: float, now: float | None = None) -> list[Unproven]:
        """Uncertain rows with no callback whose calling window is over: probably never queued."""
        now = time.time() if now is None else now
        query = (
            select(rows.c.id, rows.c.row_number, rows.c.phone_number, rows.c.end_ts, rows.c.updated_at)
            .where(rows.c.job_id == job_id, rows.c.state == RowState.UNCERTAIN.value, rows.c.outcome_status.is_(None))
            .order_by(rows.c.id)
        )
        found = []
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                since = r.updated_at or 0.0
                if r.end_ts is not None and r.end_ts < now:
                    found.append(
                        Unproven(
                            r.id,
                            r.row_number,
                            r.phone_number,
                            since,
                            "its end_timestamp has passed and no callback came",
                        )
                    )
                elif r.end_ts is None and since + grace < now:
                    found.append(
                        Unproven(
                            r.id,
                            r.row_number,
                            r.phone_number,
                            since,
                            f"no callback in the {grace:.0f}s grace period after its last attempt",
                        )
                    )
        return found

    def resend_unproven(self, job_id: int, row_ids: Sequence[int]) -> int:
        """Explicit operator action: the listed uncertain rows (still without any outcome) → pending."""
        if not row_ids:
            return 0
        event = Event.RECONCILED
        with write(self.engine) as conn:
            result = conn.execute(
                update(rows)
                .where(
                    and_(
                        rows.c.job_id == job_id,
                        rows.c.id.in_(list(row_ids)),
                        rows.c.state.in_(sorted(allowed_from(event))),
                        rows.c.outcome_status.is_(None),
                    )
                )
                .values(
                    state=target(event).value,
                    updated_at=time.time(),
                    resolution="reconcile: no callback proved it queued; put back to pending by the operator",
                )
            )
        return int(result.rowcount or 0)


class _Update(NamedTuple):
    """One row's outcome update (the columns of :data:`_OUTCOME`, in order)."""

    rid: int
    prev: str  # the state it was read in: the UPDATE applies only if it is still there
    state: str
    take: int  # 1: the outcome columns are replaced
    status: str
    attempts: int | None
    last_at: int | None
    source: str
    payload: str
    resolution: str | None


def _folded(
    earlier: _Update | None,
    row: tuple[int, str, str],
    decision: CallbackDecision,
    details: CallDetails,
    report: tuple[str, str],
) -> _Update:
    """A row's update after one more decided outcome (``row``: its id, the state it was read in, the
    state the outcomes before left it in; ``report``: its source and payload): the latest outcome's
    values, the outcome columns replaced if any outcome of the batch was taken, and the first
    resolution that says why it moved."""
    row_id, read_in, state = row
    source, payload = report
    resolution = None
    new_state = state
    if decision.event is not None:
        new_state = target(decision.event).value
        resolution = f"resolved by callback: Insight reported '{details.status}' for a row that was {state}"
    elif earlier is not None:
        resolution = earlier.resolution
    return _Update(
        row_id,
        read_in,
        new_state,
        1 if decision.takes or (earlier is not None and earlier.take) else 0,
        details.status,
        details.attempts,
        details.last_attempt_at,
        source,
        payload,
        resolution,
    )


def _token_matches(stored: str | None, given: str | None) -> bool:
    """Whether a callback's token is the row's (constant time); a poll gives None and needs none."""
    return given is None or (bool(stored) and hmac.compare_digest(str(stored).encode(), given.encode()))


def _write_outcomes(conn: Connection, updates: list[_Update], stamp: float) -> None:
    """Every row's folded update in one statement, each applied only if its row is still in the
    state it was read in."""
    cte, params = values_cte(conn, "o", _OUTCOME, updates)
    mark = placeholder(conn)
    conn.exec_driver_sql(
        f"{cte} UPDATE rows SET state = o.state, "
        "outcome_status = CASE WHEN o.take = 1 THEN o.status ELSE rows.outcome_status END, "
        "outcome_attempts = CASE WHEN o.take = 1 THEN o.attempts ELSE rows.outcome_attempts END, "
        "outcome_last_attempt_at = CASE WHEN o.take = 1 THEN o.last_at "
        "ELSE rows.outcome_last_attempt_at END, "
        "outcome_source = CASE WHEN o.take = 1 THEN o.source ELSE rows.outcome_source END, "
        "outcome_payload = CASE WHEN o.take = 1 THEN o.payload ELSE rows.outcome_payload END, "
        f"outcome_at = CASE WHEN o.take = 1 THEN {mark} ELSE rows.outcome_at END, updated_at = {mark}, "
        "resolution = COALESCE(o.resolution, rows.resolution) FROM o WHERE rows.id = o.rid "
        "AND rows.state = o.prev",
        (*params, stamp, stamp),
    )


def prove_reported(conn: Connection, ids: Sequence[int], why: str) -> None:
    """Rows among ``ids`` that Insight already reported an outcome for were queued
    (:func:`~batchqueue.lifecycle.proves_queued`): applied after a settlement or a recovery that
    would otherwise leave them elsewhere (a callback can come before the reply it follows)."""
    if not ids:
        return
    reported = conn.exec_driver_sql(
        f"SELECT id, state FROM rows WHERE id IN {in_list(conn, len(ids))} AND outcome_status IS NOT NULL", tuple(ids)
    ).all()
    proven = [row_id for row_id, state in reported if proves_queued(state) is not None]
    if proven:
        conn.exec_driver_sql(
            f"UPDATE rows SET state = '{target(Event.PROVEN).value}', resolution = COALESCE(resolution, "
            f"{placeholder(conn)}) WHERE id IN {in_list(conn, len(proven))} AND state IN {_PROVEN_FROM}",
            (f"resolved by callback: {why}", *proven),
        )
        relog_contacts(conn, proven, time.time())  # a proven call counts, even after its claim looked refused


def _store_spool_position(conn: Connection, spool_id: str, position: int, stamp: float) -> None:
    moved = conn.execute(
        update(spool_positions)
        .where(spool_positions.c.spool_id == spool_id)
        .values(position=position, updated_at=stamp)
    ).rowcount
    if not moved:
        conn.execute(insert(spool_positions).values(spool_id=spool_id, position=position, updated_at=stamp))
