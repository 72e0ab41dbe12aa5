"""A call's outcome as Insight reports it, and which report wins: one meaning of "outcome".

An outcome is what became of a queued *call* (``completed``, ``failed``, ``rejected``,
``canceled``, or a status on the way there). It is not a row's state (see :mod:`batchqueue.lifecycle`):
a row ``failed`` means Insight refused the request; a call ``failed`` means it was made and did not
complete.

Usage::

    if outranks(details.status, stored_status): ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINAL = frozenset({"completed", "failed", "rejected", "canceled"})


@dataclass(frozen=True)
class CallDetails:
    """What Insight says about one call (``call_details``), already validated and clamped."""

    status: str
    attempts: int | None = None
    max_attempts: int | None = None
    queued_at: int | None = None
    last_attempt_at: int | None = None
    start_at: int | None = None
    end_at: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def rank(status: str | None) -> int:
    """0 unknown, 1 in progress, 2 final."""
    if status in FINAL:
        return 2
    return 1 if status else 0


def outranks(new: str, current: str | None) -> bool:
    """Whether an outcome ``new`` replaces the stored ``current`` one.

    Never a step backwards, and never once the outcome is final: the first final outcome stands.
    """
    if current is None:
        return True
    if current in FINAL:
        return False
    return new != current and rank(new) >= rank(current)
