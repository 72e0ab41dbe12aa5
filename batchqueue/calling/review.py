"""The calling-window send-time rule: inside each claim, every row gets a compliant window.

For each candidate row: its zones (:mod:`batchqueue.places.contacts`), the next window every rule
set allows in all of them, intersected with the row's own start/end (never wider). The row is sent
with that window as ``start_timestamp``/``end_timestamp``; Insight's own re-attempts
(``max_attempts`` × ``reattempt_wait``) are reduced to what fits in it. With ``hold_until_window``
a row whose window opens later stays pending (``not_before``) until it opens, so nothing is left
scheduled far ahead in Insight. A row with no allowed time at all (its own end comes first, or
nothing maps) is held with the reason.

Usage::

    review = CallingReview([CallingRules.from_json(job.options.get("calling"))], hold_until_window=True)
    RunRequest(job.id, review=review)
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace

from batchqueue.calling.rules import CallingRules
from batchqueue.calling.windows import WindowFinder
from batchqueue.defaults import DEFAULTS
from batchqueue.holds import FOREVER, HoldReason
from batchqueue.ledger.records import Claimed
from batchqueue.ledger.sending import ClaimContext, ClaimReview, Verdict, narrowed_by
from batchqueue.places.contacts import ContactZone, ZoneFinder, display_zone
from batchqueue.places.zone_names import zone as tzinfo_of

log = logging.getLogger(__name__)


@dataclass
class CallingReview:
    """A :data:`~batchqueue.ledger.sending.ClaimReview` that gives every request a compliant window."""

    rule_sets: list[CallingRules]
    default_zone: str | None = None
    hold_until_window: bool = False
    #: Rows whose Insight re-attempts were reduced to fit their window, this run.
    attempts_reduced: int = 0
    _zones: ZoneFinder = field(init=False)
    _windows: WindowFinder = field(init=False)

    def __post_init__(self) -> None:
        self._zones = ZoneFinder(self.default_zone)
        self._windows = WindowFinder(self.rule_sets)

    def contact(self, row: Claimed) -> ContactZone | None:
        """Where the row's contact is (its zones, the source, its country and state)."""
        return self._zones.find(row.e164, row.facts)

    def __call__(self, rows: list[Claimed], ctx: ClaimContext) -> list[Verdict]:
        return [self.verdict(row, ctx.now) for row in rows]

    def verdict(self, row: Claimed, now: float) -> Verdict:
        """The decision for one row at ``now``."""
        contact = self.contact(row)
        if contact is None:
            return Verdict(
                send=False,
                hold_until=FOREVER,
                hold=HoldReason.NO_ZONE,
                reason="nothing maps this number to a place; import with --default-timezone",
            )
        window = self._windows.next_window(contact, now=now, own_start=row.start_ts, own_end=row.end_ts)
        if window is None:
            why = "its own end comes before any allowed calling time" if row.end_ts else "no allowed calling time"
            return Verdict(
                send=False,
                hold_until=FOREVER,
                hold=HoldReason.NO_CALLING_TIME,
                reason=f"{why} ({contact.label}, {contact.source})",
            )
        start, end = window
        if self.hold_until_window and start > now + DEFAULTS.hold_grace:
            if row.start_ts is not None and start <= row.start_ts:  # the row's own start, not the rules
                return Verdict(
                    send=False,
                    hold_until=start,
                    hold=HoldReason.OWN_START,
                    reason=f"starts {local_time(start, contact)}",
                )
            closed = self._closed_today(contact, now)
            reason, why = closed if closed else (HoldReason.CALLING_WINDOW, "")
            return Verdict(
                send=False,
                hold_until=start,
                hold=reason,
                reason=f"{why}; opens {local_time(start, contact)}".lstrip("; "),
            )
        return Verdict(
            start_ts=start,
            end_ts=end,
            max_attempts=self._fitted_attempts(row, end - max(start, int(now))),
            timezone=contact.label,
            timezone_source=contact.stored_source,
            states=" ".join(contact.states) or None,
            places=contact.places_text or None,
        )

    def _closed_today(self, contact: ContactZone, now: float) -> tuple[HoldReason, str] | None:
        """What forbids calling the contact on its own date today (a day of the week, a blackout,
        a public holiday), if something does: why its window opens later than the hours alone say."""
        for rules in self.rule_sets:
            place = rules.for_place(contact.states, contact.country)
            for zone in (*contact.zones, *place.fixed_zones):
                closed = place.closed_by(dt.datetime.fromtimestamp(now, tzinfo_of(zone)).date())
                if closed is not None:
                    return closed
        return None

    def _fitted_attempts(self, row: Claimed, length: int) -> int | None:
        """``max_attempts`` reduced so that every re-attempt starts inside the window."""
        attempts, wait = row.max_attempts, row.reattempt_wait
        if not attempts or attempts <= 1 or not wait:
            return None
        fits = 1 + length // wait
        if fits >= attempts:
            return None
        if self.attempts_reduced == 0:
            log.warning(
                "row %d: %d attempts %ds apart do not fit its %ds calling window; sent with max_attempts %d",
                row.row_number,
                attempts,
                wait,
                length,
                fits,
            )
        self.attempts_reduced += 1
        return int(fits)


def then(first: ClaimReview, second: ClaimReview) -> ClaimReview:
    """Two send-time rules in turn: ``second`` sees the rows ``first`` sends, as ``first`` narrowed
    them; a row either holds is held, and a window both narrow is their intersection."""

    def both(rows: list[Claimed], ctx: ClaimContext) -> list[Verdict]:
        verdicts = first(rows, ctx)
        sent = [i for i, v in enumerate(verdicts) if v.send]
        narrowed = [narrowed_by(rows[i], verdicts[i]) for i in sent]
        for i, later in zip(sent, second(narrowed, ctx), strict=True):
            earlier = verdicts[i]
            if not later.send:
                verdicts[i] = later
                continue
            start, end = _later(earlier.start_ts, later.start_ts), _earlier(earlier.end_ts, later.end_ts)
            if start is not None and end is not None and end <= start:
                verdicts[i] = Verdict(
                    send=False,
                    hold_until=start,
                    hold=HoldReason.RULES_DISAGREE,
                    reason=f"tried again {dt.datetime.fromtimestamp(start, dt.UTC):%Y-%m-%d %H:%M} UTC",
                )
                continue
            verdicts[i] = replace(
                earlier, start_ts=start, end_ts=end, max_attempts=_earlier(earlier.max_attempts, later.max_attempts)
            )
        return verdicts

    return both


def local_time(at: float, contact: ContactZone) -> str:
    """``at`` as the contact's clock shows it: "2026-12-04 08:00 America/Chicago" (the first of
    several zones; UTC for a country's safe window)."""
    name = display_zone(contact.label, contact.source)
    return f"{dt.datetime.fromtimestamp(at, tzinfo_of(name)):%Y-%m-%d %H:%M} {name}"


def _later(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)
