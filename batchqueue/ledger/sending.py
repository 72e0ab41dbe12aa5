"""Send-side transitions: claim, settle what was sent, recover after a crash, retry and cancel.

Each public method is one transaction. The commit protocol (docs/ARCHITECTURE.md) rests on
:meth:`SendingLedger.settle`: it commits the settlements of finished rows *and* marks the next rows
``sending`` in one transaction, before any settlement is reported and before any row is sent.
Every state write names a lifecycle event and is guarded by the states the event allows; a row
found elsewhere is returned as a :class:`~batchqueue.lifecycle.Conflict`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update

from batchqueue.holds import HoldReason, Holds
from batchqueue.ledger.batchsql import event_guard, in_list, multi_values, placeholder, states_sql, values_cte
from batchqueue.ledger.contacts import ContactRules, job_contact_rules, mark_contacts, release_contacts, relog_contacts
from batchqueue.ledger.database import again_after_a_conflict, write
from batchqueue.ledger.dnc import suppress_listed
from batchqueue.ledger.holding import count_holds, hold_pending, release_holds
from batchqueue.ledger.outcomes import prove_reported
from batchqueue.ledger.records import CLAIM_COLUMNS, Claimed, Settled, Settlement, claimed_from
from batchqueue.ledger.schema import attempts, rows
from batchqueue.ledger.suppress import phone_column
from batchqueue.lifecycle import TRANSITIONS, Conflict, Event, RowState, allowed_from, target

log = logging.getLogger(__name__)

#: The events a settlement may carry.
SETTLE_EVENTS = (
    Event.ACCEPTED,
    Event.REFUSED,
    Event.AMBIGUOUS,
    Event.AMBIGUOUS_RESENT,
    Event.NOT_ACCEPTED,
    Event.RELEASED,
)
#: Settlements of a claim that placed no call: its request never left, or Insight refused it (no call
#: queued). The claim's calls are taken back from the contact log (:func:`release_contacts`).
NO_CALL_EVENTS = frozenset({Event.RELEASED, Event.NOT_ACCEPTED, Event.REFUSED})
_SENDING = RowState.SENDING.value
_PENDING = RowState.PENDING.value
_ROW_SETTLEMENT = (
    ("rid", "INTEGER"),
    ("event", "VARCHAR(32)"),
    ("state", "VARCHAR(16)"),
    ("call_id", "TEXT"),
    ("error", "TEXT"),
    ("http_status", "INTEGER"),
    ("extra", "INTEGER"),
)
_ATTEMPT = (
    ("rid", "INTEGER"),
    ("finished_at", "FLOAT"),
    ("outcome", "VARCHAR(16)"),
    ("http_status", "INTEGER"),
    ("call_id", "TEXT"),
    ("error", "TEXT"),
)
_CLAIM_SELECT = ", ".join(CLAIM_COLUMNS)
#: The error a recovery gives a row it finds ``sending``: also how NEVER_SENT knows nothing happened since.
FOUND_SENDING_ERROR = (
    "found 'sending' with no live sender: the process sending it died, so Insight may or may not have queued it"
)
_SETTLE_GUARD = event_guard(SETTLE_EVENTS)
#: Settlement events the worker that claimed a row may still apply after a recovery made it
#: uncertain (lifecycle: ``own_claim_froms``), and the states they may then move it from.
_OWN_CLAIM_FROMS = {e: TRANSITIONS[e].own_claim_froms for e in SETTLE_EVENTS if TRANSITIONS[e].own_claim_froms}


@dataclass(frozen=True)
class Verdict:
    """A send-time rule's decision for one candidate row.

    ``send`` False holds the row pending until ``hold_until`` (unix seconds), for ``hold`` (a word of
    :class:`~batchqueue.holds.HoldReason`; a rule that gives none is ``SEND_TIME_RULE``), with this
    row's particulars in ``reason``.
    A sent row may get a narrower window (``start_ts``/``end_ts``) than it was imported with, fewer
    Insight re-attempts (``max_attempts``), and the zone(s) the window was set in, with their source,
    the contact's states and what each source named.
    """

    send: bool = True
    start_ts: int | None = None
    end_ts: int | None = None
    hold_until: float | None = None
    reason: str | None = None
    max_attempts: int | None = None
    timezone: str | None = None
    timezone_source: str | None = None
    hold: HoldReason | None = None
    states: str | None = None  # every US state the contact may be in: "FL NY"
    places: str | None = None  # each source of its zones and states: "zip: America/New_York (NY); number: …"


@dataclass
class ClaimContext:
    """What a send-time rule sees, inside the claim transaction."""

    now: float
    conn: Connection
    job_id: int


#: A send-time rule: candidate rows (in input order) → one verdict each, inside the claim transaction.
ClaimReview = Callable[[list[Claimed], ClaimContext], list[Verdict]]


class SendingLedger:
    """The send side of the ledger (see :class:`batchqueue.ledger.store.Ledger`)."""

    engine: Engine
    #: Per job: its contact rules and phone column; see :meth:`_claim_rules`.
    _job_rules: dict[int, tuple[ContactRules, str]]

    def _lock(self, *, skip_locked: bool) -> str:
        """The row-locking suffix of a SELECT in a write transaction ('' where writes are serialised)."""
        return ""

    # -- recovery ------------------------------------------------------------------------------

    def recover_sending(
        self,
        job_id: int,
        *,
        event: Event = Event.FOUND_SENDING,
        expired_only: bool = False,
        resend_limit: int | None = None,
    ) -> int:
        """Rows left ``sending`` by a dead process become ``uncertain`` (never resent without an operator),
        or ``pending`` for FOUND_SENDING_RESENT. ``expired_only`` (many workers): only rows whose
        lease has run out; the others belong to live workers. With FOUND_SENDING_RESENT and a
        ``resend_limit``, a row that has already had that many attempts is not resent: it becomes
        ``uncertain`` like an ambiguous reply at the cap (the cap counts every attempt, crashes too)."""
        if event not in (Event.FOUND_SENDING, Event.FOUND_SENDING_RESENT):
            raise ValueError(f"{event} is not a recovery event")
        stamp = time.time()
        condition = and_(rows.c.job_id == job_id, rows.c.state.in_(sorted(allowed_from(event))))
        if expired_only:
            condition = and_(condition, or_(rows.c.lease_expires.is_(None), rows.c.lease_expires < stamp))
        with write(self.engine) as conn:
            found = conn.execute(
                select(rows.c.id, rows.c.attempts).where(condition).with_for_update(skip_locked=True)
            ).all()
            if not found:
                return 0
            ids = [r[0] for r in found]
            capped = event is Event.FOUND_SENDING_RESENT and resend_limit is not None
            by_event: dict[Event, list[int]] = {}
            for row_id, count in found:
                chosen: Event = Event.FOUND_SENDING if capped and count >= (resend_limit or 0) else event
                by_event.setdefault(chosen, []).append(row_id)
            moved = 0
            for chosen, chosen_ids in by_event.items():
                moved += int(
                    conn.execute(
                        update(rows)
                        .where(rows.c.id.in_(chosen_ids), condition)
                        .values(
                            state=target(chosen).value,
                            updated_at=stamp,
                            # lease_owner is kept: the worker that lost the row may still report,
                            # once it reaches the ledger again, that its request never left.
                            error=FOUND_SENDING_ERROR,
                        )
                    ).rowcount
                    or 0
                )
            conn.execute(
                update(attempts)
                .where(attempts.c.row_id.in_(ids), attempts.c.outcome.is_(None))
                .values(outcome="lost", finished_at=stamp, error="the sending process died")
            )
            # A callback that came while it was sending proved it queued: not uncertain, not resent.
            prove_reported(conn, ids, "an outcome arrived while it was being sent")
        return moved

    def release_unsent(self, job_id: int, owner: str, sent: set[int]) -> int:
        """Rows this worker (``owner``) claimed and never sent, back to ``pending``: those still
        ``sending`` (lifecycle: RELEASED) and those another worker found ``sending`` while this one
        was cut off from the ledger (``uncertain``, lifecycle: NEVER_SENT). ``sent`` holds every row
        whose request may have left this worker; they are never touched. NEVER_SENT's guard: the row
        is still this owner's claim, uncertain by that recovery, and nothing has happened to it since
        (no call id, no callback, no operator). Returns how many rows went back."""
        stamp = time.time()
        uncertain, sending = RowState.UNCERTAIN.value, RowState.SENDING.value
        with write(self.engine) as conn:
            mark = placeholder(conn)
            found = conn.exec_driver_sql(
                f"SELECT id, state FROM rows WHERE job_id = {mark} AND lease_owner = {mark} AND ("
                f"state = {mark} OR (state = {mark} AND error = {mark} AND call_id IS NULL "
                f"AND outcome_status IS NULL)){self._lock(skip_locked=False)}",
                (job_id, owner, sending, uncertain, FOUND_SENDING_ERROR),
            ).all()
            moved = 0
            for row_id, state in found:
                if row_id in sent:
                    continue
                event = Event.RELEASED if state == sending else Event.NEVER_SENT
                done = conn.exec_driver_sql(
                    f"UPDATE rows SET state = {mark}, attempts = attempts - 1, error = NULL, updated_at = {mark} "
                    f"WHERE id = {mark} AND state = {mark} AND lease_owner = {mark}",
                    (target(event).value, stamp, row_id, state, owner),
                ).rowcount
                if not done:
                    continue
                moved += 1
                # The attempt the claim opened never happened: the open one, or the one recovery closed as lost.
                conn.exec_driver_sql(
                    f"DELETE FROM attempts WHERE id = (SELECT MAX(id) FROM attempts WHERE row_id = {mark} "
                    f"AND (outcome IS NULL OR outcome = 'lost'))",
                    (row_id,),
                )
                release_contacts(conn, [row_id])  # its request never left: no call to count
                log.info("row %d: %s (%s)", row_id, event.value, TRANSITIONS[event].meaning)
        return moved

    # -- the send loop -------------------------------------------------------------------------

    def claim(self, job_id: int, limit: int, *, review: ClaimReview | None = None) -> list[Claimed]:
        """Up to ``limit`` pending rows, in input order, marked ``sending`` and COMMITTED, with an
        open attempt each. Nothing may be sent for a row before this returns it."""
        return self.settle(job_id, [], [], limit, review=review).claimed

    def preview_claim(self, job_id: int, limit: int, *, review: ClaimReview | None = None) -> Settled:
        """What :meth:`claim` would take now — do-not-call lists and ``review`` applied, windows
        narrowed — in a transaction that is rolled back: nothing changes (``run --dry-run``)."""
        stamp = time.time()
        done = Settled()
        with write(self.engine, rolled_back=True) as conn:
            release_holds(conn, job_id)
            done.claimed, done.held, done.suppressed_by = self._claim(conn, job_id, limit, stamp, None, stamp, review)
            done.holds = count_holds(conn, job_id, stamp)  # this claim's own: the earlier ones were released
        done.suppressed = sum(done.suppressed_by.values())
        return done

    def record(self, settlements: Sequence[Settlement], *, owner: str | None = None) -> list[Conflict]:
        """Commit the settlements of several rows in one transaction (one fsync for the batch)."""
        return self.settle(0, settlements, [], 0, owner=owner).conflicts if settlements else []

    def release(self, row_ids: Sequence[int], *, owner: str | None = None) -> list[Conflict]:
        """Claimed rows whose request never left: back to ``pending`` (only safe when that is certain;
        with ``owner``, only while the row is still that worker's claim)."""
        if not row_ids:
            return []
        return self.record([Settlement(row_id, Event.RELEASED) for row_id in row_ids], owner=owner)

    @again_after_a_conflict
    def settle(
        self,
        job_id: int,
        settlements: Sequence[Settlement],
        release_ids: Sequence[int],
        claim_limit: int,
        *,
        owner: str | None = None,
        lease_ttl: float = 60.0,
        review: ClaimReview | None = None,
        budget: bool = False,
    ) -> Settled:
        """Record ``settlements``, release never-sent rows, and claim up to ``claim_limit`` more of
        ``job_id``, all in ONE transaction, so a busy run pays one commit per round. ``budget``: claim
        no more than the job's shared test-send budget has left (see ``join_budget``)."""
        stamp = time.time()
        done = Settled()
        items = list(settlements) + [Settlement(row_id, Event.RELEASED) for row_id in release_ids]
        with write(self.engine) as conn:
            if items:
                done.conflicts = _record(conn, items, stamp, owner)
            if claim_limit > 0 and budget:
                # A test send shared by many workers: the job's budget, locked until this commits.
                mark = placeholder(conn)
                left = conn.exec_driver_sql(
                    f"SELECT limit_rows - claimed FROM claim_budgets WHERE job_id = {mark}"
                    f"{self._lock(skip_locked=False)}",
                    (job_id,),
                ).scalar()
                claim_limit = min(claim_limit, max(0, int(left or 0)))
            if claim_limit > 0:
                done.claimed, done.held, done.suppressed_by = self._claim(
                    conn, job_id, claim_limit, stamp, owner, stamp + lease_ttl, review
                )
                done.suppressed = sum(done.suppressed_by.values())
                if budget and done.claimed:
                    conn.exec_driver_sql(
                        f"UPDATE claim_budgets SET claimed = claimed + {placeholder(conn)} "
                        f"WHERE job_id = {placeholder(conn)}",
                        (len(done.claimed), job_id),
                    )
        for conflict in done.conflicts:
            log.warning(
                "a settlement found its row elsewhere: %s",
                conflict,
                extra={"row": conflict.row_id, "event": "conflict"},
            )
        return done

    def _claim_rules(self, conn: Connection, job_id: int) -> tuple[ContactRules, str]:
        """The job's contact rules (re-contact limits, family) and phone column, read once per
        ledger object: all are fixed at import (the jobs of the same file are not: each claim finds them)."""
        if job_id not in self._job_rules:
            self._job_rules[job_id] = (job_contact_rules(conn, job_id), phone_column(conn, job_id))
        return self._job_rules[job_id]

    def _claim(
        self,
        conn: Connection,
        job_id: int,
        limit: int,
        stamp: float,
        owner: str | None,
        expires: float,
        review: ClaimReview | None,
    ) -> tuple[list[Claimed], int, dict[str, int]]:
        """(claimed rows, rows held by ``review`` or a state's cap, rows suppressed by reason: "dnc"
        (a do-not-call list), "recontact" (a re-contact limit), "max-contacts" (the job's cap))."""
        mark = placeholder(conn)
        lock = self._lock(skip_locked=True)
        claimed: list[Claimed] = []
        held = 0
        suppressed: dict[str, int] = {}
        after = 0
        contact_rules, column = self._claim_rules(conn, job_id)
        contact_rules = contact_rules.with_relatives(conn, job_id)  # a re-import may have come since
        while len(claimed) < limit:
            want = limit - len(claimed)
            found = conn.exec_driver_sql(
                f"SELECT {_CLAIM_SELECT} FROM rows WHERE job_id = {mark} AND state = {mark} AND id > {mark} "
                f"AND (not_before IS NULL OR not_before <= {mark}) ORDER BY id LIMIT {mark}{lock}",
                (job_id, _PENDING, after, stamp, want),
            ).all()
            if not found:
                break
            after = found[-1][0]
            candidates = [claimed_from(r) for r in found]
            barred = suppress_listed(conn, candidates, stamp, column)  # the lists, checked as late as this
            if barred:
                candidates = [c for c in candidates if c.row_id not in barred]
                suppressed["dnc"] = suppressed.get("dnc", 0) + len(barred)
            windows: dict[int, Verdict] = {}
            if review is None:
                chosen = candidates
            else:
                verdicts = review(candidates, ClaimContext(stamp, conn, job_id))
                chosen, holds, narrowed = _apply_verdicts(candidates, verdicts)
                if holds:
                    _hold(conn, holds, stamp)
                    held += len(holds)
                windows = {c.row_id: v for c, v in narrowed}
            if chosen:  # re-contact rules and caps: some rows suppressed or held, some with fewer attempts
                placed = {row_id: v.states for row_id, v in windows.items()}  # what sent_states will keep
                contacted = mark_contacts(conn, job_id, chosen, stamp, contact_rules, column, placed)
                chosen = contacted.sent
                held += len(contacted.held)
                for reason, count in (
                    ("recontact", len(contacted.suppressed - contacted.capped)),
                    ("max-contacts", len(contacted.capped)),
                ):
                    if count:
                        suppressed[reason] = suppressed.get(reason, 0) + count
                barred = barred | contacted.suppressed | contacted.held
            if chosen:
                _mark_sending(conn, job_id, chosen, windows, stamp, owner, expires)
                claimed += chosen
            if (review is None and not barred) or len(found) < want:
                break
        return claimed, held, suppressed

    def release_holds(self, job_id: int) -> int:
        """Pending rows a send-time rule held: free again, for this run's rules to decide anew."""
        with write(self.engine) as conn:
            return release_holds(conn, job_id)

    def holds(self, job_id: int, now: float) -> Holds:
        """The pending rows held past ``now``, by reason: how many, the earliest moment one may be
        tried, and that row's particulars. One statement, read from ``ix_rows_held``."""
        with self.engine.connect() as conn:
            return count_holds(conn, job_id, now)

    # -- operator actions ----------------------------------------------------------------------

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
        events = ([Event.RETRIED] if failed else []) + ([Event.RETRIED_UNCERTAIN] if uncertain else [])
        moved = 0
        with write(self.engine) as conn:
            for event in events:
                condition = and_(rows.c.job_id == job_id, rows.c.state.in_(sorted(allowed_from(event))))
                if status_code is not None:
                    condition = and_(condition, rows.c.http_status == status_code)
                if error_contains:
                    condition = and_(condition, rows.c.error.contains(error_contains, autoescape=True))
                moved += int(
                    conn.execute(
                        update(rows)
                        .where(condition)
                        .values(
                            state=target(event).value,
                            call_id=None,
                            error=None,
                            http_status=None,
                            updated_at=time.time(),
                        )
                    ).rowcount
                    or 0
                )
        return moved

    def cancel_pending(self, job_id: int) -> int:
        """Pending rows become ``canceled``; they will not be sent."""
        return self._move_all(job_id, Event.CANCELED)

    def uncancel(self, job_id: int) -> int:
        """Canceled rows (never sent) back to ``pending``; returns how many."""
        return self._move_all(job_id, Event.UNCANCELED)

    def _move_all(self, job_id: int, event: Event) -> int:
        """Every row of the job that ``event`` may move, moved by it."""
        with write(self.engine) as conn:
            result = conn.execute(
                update(rows)
                .where(rows.c.job_id == job_id, rows.c.state.in_(sorted(allowed_from(event))))
                .values(state=target(event).value, updated_at=time.time())
            )
        return int(result.rowcount or 0)


def narrowed_by(row: Claimed, verdict: Verdict) -> Claimed:
    """The row as a sending verdict leaves it: its window and attempts where the verdict set them."""
    return row._replace(
        start_ts=verdict.start_ts if verdict.start_ts is not None else row.start_ts,
        end_ts=verdict.end_ts if verdict.end_ts is not None else row.end_ts,
        max_attempts=verdict.max_attempts if verdict.max_attempts is not None else row.max_attempts,
    )


def _apply_verdicts(
    candidates: list[Claimed], verdicts: list[Verdict]
) -> tuple[list[Claimed], list[tuple[int, Verdict]], list[tuple[Claimed, Verdict]]]:
    """(rows to send, rows to hold with their verdicts, the sent rows whose window a rule set)."""
    if len(verdicts) != len(candidates):
        raise ValueError(f"a send-time rule gave {len(verdicts)} verdicts for {len(candidates)} rows")
    chosen: list[Claimed] = []
    holds: list[tuple[int, Verdict]] = []
    narrowed: list[tuple[Claimed, Verdict]] = []
    for row, verdict in zip(candidates, verdicts, strict=True):
        if not verdict.send:
            holds.append((row.row_id, verdict))
            continue
        if verdict.start_ts is not None or verdict.end_ts is not None or verdict.max_attempts is not None:
            row = narrowed_by(row, verdict)
            narrowed.append((row, verdict))
        chosen.append(row)
    return chosen, holds, narrowed


def _hold(conn: Connection, holds: list[tuple[int, Verdict]], stamp: float) -> None:
    rows = [
        (row_id, verdict.hold_until or stamp, verdict.hold or HoldReason.SEND_TIME_RULE, verdict.reason)
        for row_id, verdict in holds
    ]
    if log.isEnabledFor(logging.DEBUG):
        by_reason = Counter(why.value for _, _, why, _ in rows)
        counted = ", ".join(f"{n} {why}" for why, n in by_reason.most_common())
        log.debug("this claim held %d row(s): %s", len(rows), counted, extra={"event": "hold"})
    hold_pending(conn, rows)


#: A claimed row's window as a send-time rule set it, written as the row is marked sending.
_CLAIM = (
    ("rid", "INTEGER"),
    ("s", "INTEGER"),
    ("e", "INTEGER"),
    ("z", "TEXT"),
    ("zs", "VARCHAR(16)"),
    ("st", "TEXT"),
    ("pl", "TEXT"),
)


def _mark_sending(
    conn: Connection,
    job_id: int,
    chosen: list[Claimed],
    windows: dict[int, Verdict],
    stamp: float,
    owner: str | None,
    expires: float,
) -> None:
    """The chosen rows become ``sending`` with an open attempt each, in two statements; a row a
    send-time rule gave a window gets it written in the same UPDATE (it is sent, so it is kept)."""
    mark = placeholder(conn)
    ids = [c.row_id for c in chosen]
    state = (target(Event.CLAIMED).value, stamp, owner, expires)
    sets = (
        f"state = {mark}, attempts = attempts + 1, updated_at = {mark}, lease_owner = {mark}, "
        f"lease_expires = {mark}, not_before = NULL, hold_reason = NULL, hold_detail = NULL"
    )
    if windows:
        data = []
        for c in chosen:
            v = windows.get(c.row_id)
            data.append(
                (c.row_id, c.start_ts, c.end_ts, v.timezone, v.timezone_source, v.states, v.places)
                if v
                else (c.row_id,) + (None,) * 6
            )
        cte, params = values_cte(conn, "w", _CLAIM, data)
        moved = len(
            conn.exec_driver_sql(  # RETURNING: sqlite3 gives no rowcount for a statement that starts WITH
                f"{cte} UPDATE rows SET {sets}, sent_start_ts = w.s, sent_end_ts = w.e, sent_timezone = w.z, "
                f"timezone_source = w.zs, sent_states = w.st, sent_places = w.pl "
                f"FROM w WHERE rows.id = w.rid AND rows.state = {mark} RETURNING rows.id",
                (*params, *state, _PENDING),
            ).all()
        )
    else:
        moved = conn.exec_driver_sql(
            f"UPDATE rows SET {sets} WHERE id IN {in_list(conn, len(ids))} AND state = {mark}", (*state, *ids, _PENDING)
        ).rowcount
    if moved != len(ids):  # the SELECT took these rows inside this very transaction: this cannot be
        raise RuntimeError(f"claimed {len(ids)} rows but moved {moved}: the claim lost its rows")
    attempt_values: list[Any] = []
    for row_id in ids:
        attempt_values += (row_id, job_id, stamp)
    conn.exec_driver_sql(
        f"INSERT INTO attempts (row_id, job_id, started_at) VALUES {multi_values(conn, 3, len(ids))}",
        tuple(attempt_values),
    )


def _record(conn: Connection, items: Sequence[Settlement], stamp: float, owner: str | None = None) -> list[Conflict]:
    """Apply the settlements (guarded by the lifecycle table) and log their attempts; returns conflicts."""
    mark = placeholder(conn)
    row_data: list[tuple[Any, ...]] = []
    first_tries: list[tuple[Any, ...]] = []
    later_tries: list[Any] = []
    for s in items:
        if s.event not in SETTLE_EVENTS:
            raise ValueError(f"{s.event} is not a settlement event")
        extra = max(0, len(s.attempts) - 1)
        row_data.append((s.row_id, s.event.value, target(s.event).value, s.call_id, s.error, s.http_status, extra))
        for n, attempt in enumerate(s.attempts):
            finished = attempt.finished or stamp
            if n == 0:
                first_tries.append((s.row_id, finished, attempt.kind, attempt.status, attempt.call_id, attempt.error))
            else:
                later_tries += (
                    s.row_id,
                    s.row_id,
                    attempt.started or stamp,
                    finished,
                    attempt.kind,
                    attempt.status,
                    attempt.call_id,
                    attempt.error,
                )
    with_rows, params = values_cte(conn, "v", _ROW_SETTLEMENT, row_data)
    # A release by a worker moves only its own claim: a row another worker claimed since (after a
    # recovery and a retry) is that worker's to settle, and would be sent twice if put back.
    own = "" if owner is None else f" AND (v.event <> '{Event.RELEASED.value}' OR rows.lease_owner = {mark})"
    # The worker that claimed a row, reporting a definitive reply that queued no call for a row a
    # recovery made uncertain while it was cut off: its own claim, nothing since (lifecycle).
    own_claim = "" if owner is None or not _OWN_CLAIM_FROMS else " OR (" + _own_claim_guard(mark) + ")"
    moved = {
        r[0]
        for r in conn.exec_driver_sql(
            f"{with_rows} UPDATE rows SET state = v.state, call_id = v.call_id, error = v.error, "
            f"http_status = v.http_status, updated_at = {mark}, attempts = rows.attempts + v.extra "
            f"FROM v WHERE rows.id = v.rid AND (({_SETTLE_GUARD}{own}){own_claim}) RETURNING rows.id",
            (
                *params,
                stamp,
                *(() if owner is None else (owner,)),
                *(() if not own_claim else (owner, FOUND_SENDING_ERROR)),
            ),
        )
    }
    reclaimed = [s.row_id for s in items if s.event in _OWN_CLAIM_FROMS and s.row_id in moved]
    if reclaimed:
        # Such a row's attempt was closed as lost by the recovery: the reply is its outcome after all.
        conn.exec_driver_sql(
            "UPDATE attempts SET outcome = NULL WHERE outcome = 'lost' AND id IN (SELECT MAX(id) FROM attempts "
            f"WHERE row_id IN {in_list(conn, len(reclaimed))} GROUP BY row_id)",
            tuple(reclaimed),
        )
    released = [s.row_id for s in items if s.event is Event.RELEASED and s.row_id in moved]
    if released:
        ids = in_list(conn, len(released))
        conn.exec_driver_sql(
            f"UPDATE rows SET attempts = attempts - 1 WHERE id IN {ids}", tuple(released)
        )  # the claim counted an attempt that never happened
        conn.exec_driver_sql(f"DELETE FROM attempts WHERE row_id IN {ids} AND outcome IS NULL", tuple(released))
    if first_tries:
        with_tries, params = values_cte(conn, "t", _ATTEMPT, first_tries)
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
    # A callback that arrived before the reply already proved the call was queued: whatever the
    # reply said, such a row is queued (lifecycle: PROVEN).
    prove_reported(conn, [s.row_id for s in items], "an outcome arrived before the reply")
    _release_uncalled(conn, [s.row_id for s in items if s.event in NO_CALL_EVENTS and s.row_id in moved])
    # A late acceptance of a row whose claim's history was given back (its request had looked
    # refused or unsent): the call counts again.
    relog_contacts(conn, [s.row_id for s in items if s.event is Event.ACCEPTED and s.row_id in moved], stamp)
    missed = [s for s in items if s.row_id not in moved]
    return _conflicts(conn, missed, stamp) if missed else []


def _own_claim_guard(mark: str) -> str:
    """SQL true when a settlement may move a row from an ``own_claim_froms`` state: its event allows
    it, and the row is still the reporting worker's claim, uncertain by a recovery, nothing since."""
    cases = " OR ".join(
        f"(v.event = '{event.value}' AND rows.state IN {states_sql([s.value for s in froms])})"
        for event, froms in _OWN_CLAIM_FROMS.items()
    )
    return (
        f"({cases}) AND rows.lease_owner = {mark} AND rows.error = {mark} "
        "AND rows.call_id IS NULL AND rows.outcome_status IS NULL"
    )


def _release_uncalled(conn: Connection, row_ids: list[int]) -> None:
    """Rows whose claim placed no call, and that are still where that left them (a callback that
    proved one queued leaves it counted): their claims' calls and marks given back."""
    if not row_ids:
        return
    no_call = sorted({target(e).value for e in NO_CALL_EVENTS})
    still = [
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT id FROM rows WHERE id IN {in_list(conn, len(row_ids))} AND state IN {in_list(conn, len(no_call))}",
            (*row_ids, *no_call),
        )
    ]
    release_contacts(conn, still)


def _conflicts(conn: Connection, missed: list[Settlement], stamp: float) -> list[Conflict]:
    mark = placeholder(conn)
    query = f"SELECT id, state FROM rows WHERE id IN {in_list(conn, len(missed))}"
    found: dict[int, str] = {r[0]: r[1] for r in conn.exec_driver_sql(query, tuple(s.row_id for s in missed))}
    conflicts = []
    for s in missed:
        conflicts.append(Conflict(s.row_id, s.event, found.get(s.row_id)))
        if s.event is Event.ACCEPTED and s.call_id:
            # Never forget a call id Insight gave, even for a row something else already settled.
            conn.exec_driver_sql(
                f"UPDATE rows SET call_id = {mark}, updated_at = {mark} WHERE id = {mark} AND call_id IS NULL",
                (s.call_id, stamp, s.row_id),
            )
    return conflicts
