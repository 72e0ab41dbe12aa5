"""A row's life: its states, the events that move it, and the one table of allowed transitions.

Every write of ``rows.state`` goes through this table: a ledger method is given an *event*, moves
only rows whose current state the event allows, and counts what it moved; a row found in another
state is a :class:`Conflict`, logged and reported, never silently skipped. Modules decide what
*happened* (a reply was ambiguous, a callback arrived); this module alone decides what the row
*becomes*. The table, drawn::

    import ──▶ pending | invalid | duplicate | filtered | suppressed   (all but pending are final)
    pending ──suppressed──▶ suppressed  (a do-not-call list or a re-contact limit forbids the number:
                                         checked in each claim)
    pending ──claimed──▶ sending ──accepted──▶ queued
                         sending ──refused───▶ failed
                         sending ──ambiguous─▶ uncertain        (or pending, if the run opted in to resend)
                         sending ──released──▶ pending          (it never left: the run was stopping)
                         sending ──not_accepted──▶ pending      (not sent, rate-limited, a batch-fatal reply)
                         sending ──found_sending──▶ uncertain   (its process died or its lease expired)
    uncertain ──never_sent──▶ pending   (the worker that claimed it was cut off from the ledger while its
                                         lease ran out, and reports once the ledger is back that its request
                                         never left; only while the row is still that claim, nothing since)
    uncertain ──refused──▶ failed; uncertain ──not_accepted──▶ pending   (the same worker, back on the
                                         ledger, reports Insight's definitive reply that queued no call;
                                         the same guard: its own claim, nothing since)
    uncertain, pending, failed, canceled ──accepted──▶ queued   (a definitive reply that came late:
                                                                 after its lease expired, say)
    uncertain, failed, pending, canceled ──proven──▶ queued     (a callback proves Insight queued the call)
    failed ──retried──▶ pending;  uncertain ──retried_uncertain | reconciled──▶ pending   (operator only)
    pending ──canceled──▶ canceled

Beside the table: the state sets other modules name instead of listing states (:data:`OPEN_STATES`,
:data:`FINAL_STATES`, :data:`PROBLEM_STATES`…), and the pure deciders of what a report about a call
does to its row (:func:`callback_decision`, :func:`proves_queued`). What a *reply* means is
:func:`batchqueue.sending.reply_events.event_for`'s to say (it reads Insight's reply classes, which
this module, below the ledger, does not import).

Usage::

    lifecycle.after(Event.AMBIGUOUS, RowState.SENDING)   # RowState.UNCERTAIN
    lifecycle.after(Event.CLAIMED, RowState.QUEUED)      # None: not allowed, a conflict
    callback_decision(RowState.UNCERTAIN, None, "completed")   # recorded, and the row proven queued
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from batchqueue.call_outcome import FINAL, outranks


class RowState(StrEnum):
    """Where a row is in its life."""

    PENDING = "pending"
    SENDING = "sending"
    QUEUED = "queued"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    CANCELED = "canceled"
    FILTERED = "filtered"  # left out by the import's --where
    SUPPRESSED = "suppressed"  # a campaign rule forbids calling it (dnc:<list>, recontact: …, max-contacts: …)


class Event(StrEnum):
    """What happened to a row; :data:`TRANSITIONS` says what it becomes."""

    CLAIMED = "claimed"
    RELEASED = "released"
    NOT_ACCEPTED = "not_accepted"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    AMBIGUOUS = "ambiguous"
    AMBIGUOUS_RESENT = "ambiguous_resent"
    FOUND_SENDING = "found_sending"
    FOUND_SENDING_RESENT = "found_sending_resent"
    NEVER_SENT = "never_sent"
    PROVEN = "proven"
    RETRIED = "retried"
    RETRIED_UNCERTAIN = "retried_uncertain"
    RECONCILED = "reconciled"
    CANCELED = "canceled"
    UNCANCELED = "uncanceled"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Transition:
    """The states an event may move a row from, the state it moves it to, and why.

    ``own_claim_froms``: states it may move a row from only when the worker that claimed the row
    reports the event, while the row is still that claim, made ``uncertain`` by a recovery (its lease
    ran out while the worker was cut off from the ledger) and untouched since: the same lease owner,
    the recovery's error, no call id, no callback (written as SQL in ``ledger/sending``)."""

    froms: frozenset[RowState]
    to: RowState
    meaning: str
    own_claim_froms: frozenset[RowState] = frozenset()


S = RowState
TRANSITIONS: Mapping[Event, Transition] = {
    Event.CLAIMED: Transition(
        frozenset({S.PENDING}), S.SENDING, "claimed for sending, committed before the request leaves"
    ),
    Event.RELEASED: Transition(
        frozenset({S.SENDING}), S.PENDING, "the request never left (the run stopped, or it was not sent)"
    ),
    Event.NOT_ACCEPTED: Transition(
        frozenset({S.SENDING}),
        S.PENDING,
        "Insight did not take it: never reached, rate-limited to the end, or a batch-fatal reply; also from "
        "uncertain, reported by the worker whose claim a recovery made uncertain (its own claim, nothing since)",
        own_claim_froms=frozenset({S.UNCERTAIN}),
    ),
    Event.ACCEPTED: Transition(
        frozenset({S.SENDING, S.UNCERTAIN, S.PENDING, S.FAILED, S.CANCELED}),
        S.QUEUED,
        "Insight answered with a call_id: queued, whatever became of the row while the answer was on its way",
    ),
    Event.REFUSED: Transition(
        frozenset({S.SENDING}),
        S.FAILED,
        "Insight refused the request (400, or success=false); also from uncertain, reported by the worker whose "
        "claim a recovery made uncertain while it was cut off from the ledger (its own claim, nothing since)",
        own_claim_froms=frozenset({S.UNCERTAIN}),
    ),
    Event.AMBIGUOUS: Transition(frozenset({S.SENDING}), S.UNCERTAIN, "the request may or may not have queued a call"),
    Event.AMBIGUOUS_RESENT: Transition(
        frozenset({S.SENDING}), S.PENDING, "ambiguous, and the run opted in to resend (at least once)"
    ),
    Event.FOUND_SENDING: Transition(
        frozenset({S.SENDING}), S.UNCERTAIN, "found sending with no live sender (a crash, a lost lease)"
    ),
    Event.FOUND_SENDING_RESENT: Transition(
        frozenset({S.SENDING}), S.PENDING, "found sending, and the run opted in to resend"
    ),
    Event.NEVER_SENT: Transition(
        frozenset({S.UNCERTAIN}),
        S.PENDING,
        "found sending while its worker was cut off from the ledger; that worker reports its request never "
        "left (guard: still its claim — the same lease owner — and nothing happened to the row since)",
    ),
    Event.PROVEN: Transition(
        frozenset({S.UNCERTAIN, S.FAILED, S.PENDING, S.CANCELED}),
        S.QUEUED,
        "a callback proved that Insight queued the call",
    ),
    Event.RETRIED: Transition(frozenset({S.FAILED}), S.PENDING, "the operator put a failed row back"),
    Event.RETRIED_UNCERTAIN: Transition(
        frozenset({S.UNCERTAIN}), S.PENDING, "the operator put an uncertain row back (may call twice)"
    ),
    Event.RECONCILED: Transition(
        frozenset({S.UNCERTAIN}), S.PENDING, "reconcile: no callback proved it queued; the operator resends"
    ),
    Event.CANCELED: Transition(frozenset({S.PENDING}), S.CANCELED, "canceled before it was sent"),
    Event.UNCANCELED: Transition(
        frozenset({S.CANCELED}), S.PENDING, "the operator put a canceled row back (it was never sent)"
    ),
    Event.SUPPRESSED: Transition(
        frozenset({S.PENDING}),
        S.SUPPRESSED,
        "its number is on a do-not-call list, or another job called it within the re-contact limit "
        "(found as it was claimed)",
    ),
}
del S


def target(event: Event) -> RowState:
    """The state ``event`` moves a row to."""
    return TRANSITIONS[event].to


def allowed_from(event: Event) -> frozenset[RowState]:
    """The states ``event`` may move a row from."""
    return TRANSITIONS[event].froms


def after(event: Event, state: RowState | str, *, own_claim: bool = False) -> RowState | None:
    """The state a row in ``state`` is in after ``event``; None when the table does not allow it.
    ``own_claim``: the event is reported by the worker whose claim the row still is, untouched
    since a recovery (see :class:`Transition`)."""
    transition = TRANSITIONS[event]
    froms = transition.froms | transition.own_claim_froms if own_claim else transition.froms
    return transition.to if RowState(state) in froms else None


# -- the state sets every other module names instead of listing states ----------------------------

#: The state a valid row is imported in: the one a run claims from.
IMPORTED = RowState.PENDING
#: The states an import gives the rows it will never send: unreadable, repeated, left out by ``--where``.
SET_ASIDE = frozenset({RowState.INVALID, RowState.DUPLICATE, RowState.FILTERED})
#: States a row is given at import (a listed or recently called number is suppressed in the import's
#: own transaction); no event leads into them afterwards except pending and suppressed.
INITIAL_STATES = frozenset({IMPORTED, RowState.SUPPRESSED}) | SET_ASIDE
#: A run still has work on these rows: to claim, or in flight (the claim's states, before and after).
OPEN_STATES = allowed_from(Event.CLAIMED) | {target(Event.CLAIMED)}
#: Done as far as sending goes: every state but the open ones. (A late reply or a callback may still
#: move such a row to queued; nothing sends it again without an operator.)
FINAL_STATES = frozenset(RowState) - OPEN_STATES
#: A request left for these rows: Insight took it, refused it, or may have queued a call.
SENT_STATES = frozenset(target(e) for e in (Event.ACCEPTED, Event.REFUSED, Event.AMBIGUOUS))
#: A call may have been placed for these rows: Insight queued it, or may have.
MAY_HAVE_CALLED = frozenset(target(e) for e in (Event.ACCEPTED, Event.AMBIGUOUS))
#: Rows an operator should look at: refused by Insight, sent with no certain answer, unreadable.
PROBLEM_STATES = frozenset({target(Event.REFUSED), target(Event.AMBIGUOUS), RowState.INVALID})


# -- the deciders: what a report about a call means for its row (pure, unit-tested from the table) --


def proves_queued(state: RowState | str) -> Event | None:
    """PROVEN, decided once: Insight reported an outcome for a row's call (a callback, a status), so
    it queued that call; a row found in a state the table lets PROVEN move is moved to queued.
    None: the row stays where it is (already queued, or a state no report may move)."""
    return Event.PROVEN if after(Event.PROVEN, state) is not None else None


class CallbackVerdict(StrEnum):
    """What became of one reported outcome (a callback or a polled status)."""

    RECORDED = "recorded"  # news: the outcome is stored (and the row proven queued if it was elsewhere)
    PROVEN = "proven"  # not news as an outcome, but it proves the call was queued: the row moves
    UNCHANGED = "unchanged"  # the same outcome again, or a step backwards, for a row that stays: ignored
    CONFLICT = "conflict"  # a different final outcome after a final one: the first stands, the later is kept
    UNKNOWN = "unknown"  # no such row, or the callback's token is not the row's (decided before this)


@dataclass(frozen=True)
class CallbackDecision:
    """A reported outcome's verdict, and the event it applies to its row (None: the row stays)."""

    verdict: CallbackVerdict
    event: Event | None = None

    @property
    def takes(self) -> bool:
        """Whether the reported outcome replaces the stored one."""
        return self.verdict is CallbackVerdict.RECORDED


def callback_decision(state: RowState | str, status: str | None, new: str) -> CallbackDecision:
    """What an outcome ``new`` reported for the call of a row in ``state``, whose stored outcome is
    ``status`` (None: none yet), does: a different final outcome after a final one is a conflict
    (the first stands); news is recorded (:func:`batchqueue.call_outcome.outranks`); either way the
    report proves the call was queued (:func:`proves_queued`); anything else is ignored."""
    if status in FINAL and new in FINAL and new != status:
        return CallbackDecision(CallbackVerdict.CONFLICT)
    event = proves_queued(state)
    if outranks(new, status):
        return CallbackDecision(CallbackVerdict.RECORDED, event)
    if event is not None:
        return CallbackDecision(CallbackVerdict.PROVEN, event)
    return CallbackDecision(CallbackVerdict.UNCHANGED)


@dataclass(frozen=True)
class Conflict:
    """An event that found its row in a state the table does not allow it from."""

    row_id: int
    event: Event
    found: str | None  # the row's state, or None when the row does not exist

    def __str__(self) -> str:
        expected = ", ".join(sorted(allowed_from(self.event)))
        return f"row {self.row_id}: {self.event} expects it {expected}, found it {self.found or 'missing'}"
