"""Why a pending row is held: the one vocabulary of hold reasons, and the words for them.

A row is *held* when a claim decides it may not be sent yet: it stays ``pending`` with
``rows.not_before`` (when it may next be tried; :data:`FOREVER` when no time is known),
``rows.hold_reason`` (a :class:`HoldReason` value) and ``rows.hold_detail`` (this row's
particulars: the zone its window opens in, the state and law of a cap). Each run releases every
hold at its start and decides anew, so a hold always says what the last claim decided.

The vocabulary is open: a new rule that holds rows adds a member here with its two phrases in
:data:`PHRASES` (a test checks every member has them), and passes it in its ``Verdict``
(``ledger/sending``) or writes it as ``ledger/caps.hold_rows`` does. Nothing else changes: the
ledger counts by reason, and ``run``, ``status``, the console and the report say it.

Usage::

    holds = ledger.holds(job_id, time.time())
    holds.describe()    # "12 held: 9 outside their calling window (next: opens 2026-12-04 08:00
                        #  America/Chicago), 3 at a state's cap on calls (next: FL allows 3 calls…)"
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: ``not_before`` of a row no time can be found for under the rules (it stays pending, with its reason).
FOREVER = 253402300799.0  # 9999-12-31 23:59:59 UTC


class HoldReason(StrEnum):
    """Why a claim left a pending row unsent (stored in ``rows.hold_reason``)."""

    CALLING_WINDOW = "calling_window"
    CALLING_DAY = "calling_day"
    HOLIDAY = "holiday"
    BLACKOUT = "blackout"
    OWN_START = "own_start"
    NO_CALLING_TIME = "no_calling_time"
    NO_ZONE = "no_zone"
    STATE_CAP = "state_cap"
    RULES_DISAGREE = "rules_disagree"
    SEND_TIME_RULE = "send_time_rule"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, stored: str | None) -> HoldReason:
        """The reason a ledger row holds (UNKNOWN for none, or one a newer version wrote)."""
        try:
            return cls(stored) if stored else cls.UNKNOWN
        except ValueError:
            return cls.UNKNOWN

    @property
    def one(self) -> str:
        """The phrase for one row: "outside its calling window"."""
        return PHRASES[self][0]

    @property
    def many(self) -> str:
        """The phrase for several rows: "outside their calling window"."""
        return PHRASES[self][1]


#: Each reason's words: (of one row, of several rows), read after a count ("9 outside their …").
PHRASES: dict[HoldReason, tuple[str, str]] = {
    HoldReason.CALLING_WINDOW: ("outside its calling window", "outside their calling window"),
    HoldReason.CALLING_DAY: (
        "on a day of the week its rules allow no calls",
        "on a day of the week their rules allow no calls",
    ),
    HoldReason.HOLIDAY: ("on a public holiday", "on a public holiday"),
    HoldReason.BLACKOUT: ("in a blackout of the calling rules", "in a blackout of the calling rules"),
    HoldReason.OWN_START: ("waiting for its own start time", "waiting for their own start time"),
    HoldReason.NO_CALLING_TIME: (
        "with no allowed calling time under the rules",
        "with no allowed calling time under the rules",
    ),
    HoldReason.NO_ZONE: ("with no time zone known", "with no time zone known"),
    HoldReason.STATE_CAP: ("at a state's cap on calls", "at a state's cap on calls"),
    HoldReason.RULES_DISAGREE: (
        "where two send-time rules' windows do not meet",
        "where two send-time rules' windows do not meet",
    ),
    HoldReason.SEND_TIME_RULE: ("held by the run's own send-time rule", "held by the run's own send-time rule"),
    HoldReason.UNKNOWN: ("held for a reason not recorded", "held for a reason not recorded"),
}


def hold_text(reason: str | None, detail: str | None) -> str:
    """One held row's reason in words, with its particulars: the report's ``bq_hold_reason``."""
    said = HoldReason.of(reason).one
    return f"{said}: {detail}" if detail else said


@dataclass(frozen=True)
class HeldGroup:
    """The rows held for one reason: how many, the earliest moment one may be tried (None: never
    under these rules), and that row's particulars."""

    reason: HoldReason
    rows: int
    next_at: float | None
    detail: str | None

    def describe(self) -> str:
        """ "9 outside their calling window (next: opens 2026-12-04 08:00 America/Chicago)"."""
        said = f"{self.rows:,} {self.reason.many if self.rows != 1 else self.reason.one}"
        return f"{said} (next: {self.detail})" if self.detail else said

    def as_json(self) -> dict[str, Any]:
        return {"reason": self.reason.value, "rows": self.rows, "next_at": self.next_at, "detail": self.detail}


@dataclass(frozen=True)
class Holds:
    """A job's held rows by reason, most rows first (``Ledger.holds``)."""

    groups: tuple[HeldGroup, ...] = ()

    @classmethod
    def of(cls, found: list[tuple[str | None, int, float | None, str | None]]) -> Holds:
        """From the ledger's (reason, rows, earliest not_before, its detail) per stored reason."""
        merged: dict[HoldReason, HeldGroup] = {}
        for stored, rows, first, detail in found:
            reason = HoldReason.of(stored)
            next_at = first if first is not None and first < FOREVER else None
            earlier = merged.get(reason)
            if earlier is not None:  # several stored values read as UNKNOWN
                keep = earlier if _sooner(earlier.next_at, next_at) else None
                next_at, detail = (earlier.next_at, earlier.detail) if keep else (next_at, detail)
                rows += earlier.rows
            merged[reason] = HeldGroup(reason, int(rows), next_at, detail)
        return cls(tuple(sorted(merged.values(), key=lambda g: (-g.rows, g.reason.value))))

    @property
    def rows(self) -> int:
        return sum(g.rows for g in self.groups)

    @property
    def next_at(self) -> float | None:
        """When the first held row may be tried (None when none may under these rules)."""
        return min((g.next_at for g in self.groups if g.next_at is not None), default=None)

    def describe(self) -> str:
        """ "12 held: 9 outside their calling window (next: …), 3 at a state's cap on calls (next: …)";
        empty when nothing is held."""
        return f"{self.rows:,} held: {self.reasons()}" if self.groups else ""

    def reasons(self) -> str:
        """Each reason with its rows: "9 outside their calling window (next: …), 3 at a state's …"."""
        return ", ".join(g.describe() for g in self.groups)

    def as_json(self) -> list[dict[str, Any]]:
        return [g.as_json() for g in self.groups]


def _sooner(a: float | None, b: float | None) -> bool:
    """Whether ``a`` comes no later than ``b`` (None: never)."""
    return a is not None and (b is None or a <= b)
