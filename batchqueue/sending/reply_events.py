"""What one Insight reply means for its row: the lifecycle event, decided once (pure).

The reply's class is :mod:`batchqueue.insight.replies`' to say (from the status, the body, where a
request failed); what the row then *becomes* is :mod:`batchqueue.lifecycle`'s table. This module
is the one step between them, beside the table but one layer up: it reads Insight's reply classes,
which the lifecycle (below the ledger) must not import.

Usage::

    policy = AmbiguousPolicy.of(options.on_ambiguous, options.resend_limit)
    event_for(reply, policy, attempts=row.attempts)   # Event.ACCEPTED for a reply with a call id
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from batchqueue.defaults import DEFAULTS
from batchqueue.insight.replies import Reply, ReplyKind
from batchqueue.lifecycle import Event


class OnAmbiguous(StrEnum):
    """What a run does with a row whose reply was ambiguous (``--on-ambiguous``)."""

    HOLD = "hold"  # uncertain: never resent without an operator
    RESEND = "resend"  # back to pending, to be sent again (at least once: may call twice)


@dataclass(frozen=True)
class AmbiguousPolicy:
    """The run's answer to an ambiguous reply: hold, or resend up to ``resend_limit`` attempts."""

    on_ambiguous: OnAmbiguous = OnAmbiguous.HOLD
    resend_limit: int = DEFAULTS.resend_limit

    @classmethod
    def of(cls, on_ambiguous: str, resend_limit: int) -> AmbiguousPolicy:
        """The policy of a run's options (``on_ambiguous`` "hold" or "resend"; ValueError otherwise)."""
        return cls(OnAmbiguous(on_ambiguous), resend_limit)

    def resends(self, attempts: int) -> bool:
        """Whether a row sent ``attempts`` times (this one counted) goes back to pending."""
        return self.on_ambiguous is OnAmbiguous.RESEND and attempts < self.resend_limit


#: The event of each reply class but the ambiguous one (the policy decides that one).
REPLY_EVENTS: Mapping[ReplyKind, Event] = {
    ReplyKind.QUEUED: Event.ACCEPTED,  # a call id: Insight queued the call
    ReplyKind.REJECTED: Event.REFUSED,  # 400, or success=false: nobody is called
    ReplyKind.FATAL: Event.NOT_ACCEPTED,  # 401 403 404 405 409 415, a redirect: the batch stops, not taken
    ReplyKind.NOT_SENT: Event.NOT_ACCEPTED,  # never reached Insight (after every allowed retry)
    ReplyKind.RATE_LIMITED: Event.NOT_ACCEPTED,  # 429 to the end: not taken
}


def event_for(reply: Reply | None, policy: AmbiguousPolicy, attempts: int = 1) -> Event:
    """The lifecycle event of a claimed row whose request ended with ``reply`` (None: it never
    left), under the run's ambiguous-reply ``policy``; ``attempts``: the row's attempts, this one
    counted."""
    if reply is None:
        return Event.RELEASED
    if reply.kind is ReplyKind.AMBIGUOUS:
        return Event.AMBIGUOUS_RESENT if policy.resends(attempts) else Event.AMBIGUOUS
    return REPLY_EVENTS[reply.kind]
