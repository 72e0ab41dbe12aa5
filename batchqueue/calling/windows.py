"""The next moment a contact may be called: allowed intervals in each of its zones, intersected.

For one zone and one place's rules, each allowed local date gives the interval from the opening
to the closing hour, turned into unix seconds by ``zoneinfo`` (so a daylight-saving change moves
the interval, never its local hours). Several zones (an area code spanning two; a country's safe
window) and several rule sets (the job's and a run's) are intersected. Intervals are computed for
a horizon of days and cached per (zones, place, first day), so a claim pays a dictionary lookup
and a bisection per row.

Usage::

    finder = WindowFinder([job_rules])
    finder.next_window(contact, now=time.time(), own_start=None, own_end=None)    # (start, end) or None
"""

from __future__ import annotations

import bisect
import datetime as dt
from functools import lru_cache

from batchqueue.calling.rules import CallingRules, PlaceRules
from batchqueue.places.contacts import ContactZone
from batchqueue.places.zone_names import zone as tzinfo_of

#: Days of allowed intervals computed at once, from the day before the one asked for (long enough
#: for a blackout of several weeks).
HORIZON_DAYS = 40
Intervals = list[tuple[float, float]]
_EPOCH = dt.date(1970, 1, 1)


@lru_cache(maxsize=4096)
def zone_intervals(
    zone: str, rules: PlaceRules, first_day: dt.date, days: int = HORIZON_DAYS
) -> tuple[tuple[float, float], ...]:
    """The allowed intervals (unix seconds) of local dates ``first_day`` … + ``days`` in ``zone``."""
    tz = tzinfo_of(zone)
    found: Intervals = []
    for n in range(days):
        day = first_day + dt.timedelta(days=n)
        hours = rules.hours_on(day)
        if hours is None or not rules.allows_day(day):
            continue
        opens, closes = hours
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
        start = (midnight + dt.timedelta(minutes=opens)).timestamp()
        end_local = midnight + dt.timedelta(minutes=closes)
        if closes == 24 * 60:  # the next local midnight, whatever the day's length
            nxt = day + dt.timedelta(days=1)
            end_local = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
        end = end_local.timestamp()
        if end > start:
            found.append((start, end))
    return tuple(_merged(found))


@lru_cache(maxsize=64)
def _day_before(days_since_epoch: int) -> dt.date:
    """The UTC date before the one of a unix day number (UTC days are 86,400 s exactly)."""
    return _EPOCH + dt.timedelta(days=days_since_epoch - 1)


def _merged(intervals: Intervals) -> Intervals:
    """Touching intervals joined (24-hour days become one span)."""
    merged: Intervals = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def intersect(a: Intervals, b: Intervals) -> Intervals:
    """The intersection of two sorted lists of disjoint intervals."""
    out: Intervals = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


#: A contact's zones, states and country, and the first day: what its allowed intervals depend on.
_Key = tuple[tuple[str, ...], tuple[str, ...], str | None, dt.date]


class WindowFinder:
    """The next allowed window of each contact under one or more rule sets (all must allow it)."""

    def __init__(self, rule_sets: list[CallingRules]) -> None:
        self.rule_sets = rule_sets
        self._cache: dict[_Key, tuple[list[float], Intervals]] = {}

    def _allowed(self, contact: ContactZone, first_day: dt.date) -> tuple[list[float], Intervals]:
        key = (contact.zones, contact.states, contact.country, first_day)
        found = self._cache.get(key)
        if found is None:
            spans: Intervals | None = None
            for rules in self.rule_sets:
                place = rules.for_place(contact.states, contact.country)
                # A law stated in one zone (Mississippi's Central Standard Time) holds there too.
                for zone in (*contact.zones, *place.fixed_zones):
                    mine = list(zone_intervals(zone, place, first_day))
                    spans = mine if spans is None else intersect(spans, mine)
            spans = spans or []
            if len(self._cache) > 65536:
                self._cache.clear()
            found = self._cache[key] = ([end for _, end in spans], spans)
        return found

    def next_window(
        self, contact: ContactZone, *, now: float, own_start: int | None, own_end: int | None
    ) -> tuple[int, int] | None:
        """The allowed (start, end) that is open now or opens next, within the row's own start/end,
        in whole seconds; None when there is none within the horizon (or before the row's end).

        The start is the window's own opening (or the row's start), even when that has passed: the
        same row gets the same window all day, so what ``run --dry-run`` shows is what is sent.
        """
        earliest = max(now, own_start or 0)
        if own_end is not None and own_end <= earliest:
            return None
        first_day = _day_before(int(earliest // 86400))
        ends, spans = self._allowed(contact, first_day)
        at = bisect.bisect_right(ends, earliest)
        if at == len(spans):
            return None
        start, end = max(spans[at][0], own_start or 0), spans[at][1]
        if own_end is not None:
            if start >= own_end:
                return None
            end = min(end, own_end)
        # Whole seconds, kept inside the allowed span: start rounded up, end rounded down.
        return int(-(-start // 1)), int(end)
