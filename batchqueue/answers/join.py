"""Which call of a number each of its survey visits answered: a pure decider, one number at a time.

A visit belongs to a call of its number that was queued before the visit started and whose window
(the row's own start and end, as sent) holds the visit's start, both give or take ``slack`` seconds
(Insight's clock and this machine's, and the report's rounding). Of several such calls (the same
number in two waves) the closest one wins: the latest queued before the visit. Nothing is guessed:

- a visit whose two closest calls were queued within ``slack`` of each other matches both equally
  (``TWO_CALLS``), and is joined to neither;
- a call that two visits point to (or may point to, through such a tie) has ``TWO_VISITS``: none
  of them is joined;
- a visit before every call of its number was queued is ``BEFORE_CALL``; one that fits no call's
  window otherwise is ``OUTSIDE_WINDOW``.

Usage::

    decisions = join_number([Seen(10, 1_100.0)], [Call(1, 1, 2, 1_000.0, 1_000.0, None)], slack=60)
    decisions[0].verdict                       # Verdict.JOINED, decisions[0].calls == (that call,)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from batchqueue.ledger.records import Call, Seen

__all__ = ["Call", "Decision", "Seen", "Verdict", "holds", "join_number"]


class Verdict(StrEnum):
    """What became of one visit."""

    JOINED = "joined"
    TWO_CALLS = "two_calls"  # it matches two calls equally
    TWO_VISITS = "two_visits"  # its call has another visit too
    BEFORE_CALL = "before_call"  # it started before any call of its number was queued
    OUTSIDE_WINDOW = "outside_window"  # it fits no call's window


def holds(call: Call, start: float, slack: float) -> bool:
    """Whether ``call``'s window holds a visit that started at ``start``, give or take ``slack``."""
    return call.window_start - slack <= start and (call.window_end is None or start <= call.window_end + slack)


@dataclass(frozen=True)
class Decision:
    """A visit's verdict, and the calls it concerns (the joined one, the tied ones, its call)."""

    visit_id: int
    start: float
    verdict: Verdict
    calls: tuple[Call, ...] = ()


def join_number(visits: Sequence[Seen], calls: Sequence[Call], slack: float) -> list[Decision]:
    """The verdict of each of one number's ``visits`` among its ``calls`` (see the module docstring)."""
    decisions: list[Decision] = []
    claims: Counter[int] = Counter()  # visits pointing at each call, joined or tied
    earliest = min((c.sent_at for c in calls), default=float("inf"))
    for visit in sorted(visits, key=lambda v: (v.start, v.visit_id)):
        fits = [c for c in calls if holds(c, visit.start, slack)]
        if not fits:
            verdict = Verdict.BEFORE_CALL if visit.start < earliest - slack else Verdict.OUTSIDE_WINDOW
            decisions.append(Decision(visit.visit_id, visit.start, verdict))
            continue
        closest = max(c.sent_at for c in fits)
        tied = tuple(sorted((c for c in fits if closest - c.sent_at <= slack), key=lambda c: (c.sent_at, c.row_id)))
        claims.update(c.row_id for c in tied)
        verdict = Verdict.JOINED if len(tied) == 1 else Verdict.TWO_CALLS
        decisions.append(Decision(visit.visit_id, visit.start, verdict, tied))
    return [
        Decision(d.visit_id, d.start, Verdict.TWO_VISITS, d.calls)
        if d.verdict is Verdict.JOINED and claims[d.calls[0].row_id] > 1
        else d
        for d in decisions
    ]
