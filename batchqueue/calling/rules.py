"""Calling rules: when a contact may be called, in the contact's own local time.

A rule set is the hours of the day (``--calling-hours 08:00-21:00``), the days of the week
(``--days mon-fri``), a public-holiday calendar (``--holidays US``, ``US-CA``: the ``holidays``
package) and blackout dates (``--blackout 2026-12-24..2026-12-26``), with overrides per US state or
per country (the mapping file's ``[calling.states.FL]`` / ``[calling.countries.GB]`` tables: hours
and days that replace the job's for contacts there). Rules are stored on the job as JSON
(:meth:`CallingRules.as_json`) and read back with :meth:`CallingRules.from_json`.

A run may add its own rule set: a moment is allowed only when *both* allow it, so a run can narrow
the job's rules, never widen them (``run --widen-calling-rules`` replaces them instead).

Usage::

    rules = CallingRules.parse(hours="09:00-20:00", days="mon-sat", holidays="US")
    rules.for_place(state="FL", country="US").allows_day(date(2026, 12, 25))    # False
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Protocol, TypeVar

from dateutil.easter import easter

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.holds import HoldReason

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_DATE_RANGE = re.compile(r"\s*(\d{4}-\d{2}-\d{2})\s*(?:\.\.\s*(\d{4}-\d{2}-\d{2}))?\s*")
#: Keys of a place's override table.
_PLACE_KEYS = ("hours", "days")


def parse_hours(text: str, where: str = "--calling-hours") -> tuple[int, int]:
    """``HH:MM-HH:MM`` as minutes after midnight (end up to 24:00), or :class:`UsageError`."""
    m = _HOURS.fullmatch(text or "")
    if m is None:
        raise UsageError(f"{where} {text!r}: expected HH:MM-HH:MM in the contact's local time, such as 08:00-21:00")
    h0, m0, h1, m1 = map(int, m.groups())
    start, end = h0 * 60 + m0, h1 * 60 + m1
    if m0 > 59 or m1 > 59 or start >= 24 * 60 or end > 24 * 60 or end <= start:
        raise UsageError(f"{where} {text!r}: the start must come before the end, both within 00:00-24:00")
    return start, end


#: The federal window (47 CFR 64.1200(c)(1)): no call before 08:00 or after 21:00, local time at
#: the called party's location.
FEDERAL_HOURS = (8 * 60, 21 * 60)
FEDERAL_FLAG = "--outside-federal-hours"


def check_federal(hours: tuple[int, int], where: str) -> None:
    """Hours wider than the federal 08:00-21:00 are refused (:class:`UsageError`)."""
    if hours[0] < FEDERAL_HOURS[0] or hours[1] > FEDERAL_HOURS[1]:
        raise UsageError(
            f"{where} {clock(hours[0])}-{clock(hours[1])} is wider than the federal 08:00-21:00 in the contact's "
            f"local time (47 CFR 64.1200(c)(1)): calls outside it may cost you per call; give {FEDERAL_FLAG} "
            "only if you know the law allows your calls outside it"
        )


def parse_days(text: str, where: str = "--days") -> frozenset[int]:
    """``mon-fri``, ``mon-sat``, ``sat,sun``, ``mon-wed,fri``, ``all`` as weekday numbers (Monday 0)."""
    value = (text or "").strip().lower()
    if value in ("all", "every", "mon-sun"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in value.split(","):
        first, _, last = part.strip().partition("-")
        try:
            a = DAY_NAMES.index(first.strip()[:3])
            b = DAY_NAMES.index(last.strip()[:3]) if last else a
        except ValueError:
            raise UsageError(f"{where} {text!r}: expected days such as mon-fri, mon-sat, sat,sun or all") from None
        if b < a:
            raise UsageError(f"{where} {text!r}: {part.strip()!r} runs backwards (write it as two parts)")
        days.update(range(a, b + 1))
    return frozenset(days)


def parse_blackout(texts: list[str] | tuple[str, ...], where: str = "--blackout") -> tuple[tuple[str, str], ...]:
    """``2026-12-24..2026-12-26`` (or one date) as (first, last) ISO dates, both included."""
    ranges: list[tuple[str, str]] = []
    for text in texts:
        m = _DATE_RANGE.fullmatch(text or "")
        try:
            if m is None:
                raise ValueError
            first = dt.date.fromisoformat(m.group(1))
            last = dt.date.fromisoformat(m.group(2)) if m.group(2) else first
        except ValueError:
            raise UsageError(f"{where} {text!r}: expected a date or a range such as 2026-12-24..2026-12-26") from None
        if last < first:
            raise UsageError(f"{where} {text!r}: the range ends before it starts")
        ranges.append((first.isoformat(), last.isoformat()))
    return tuple(ranges)


def check_holidays(text: str, where: str = "--holidays") -> str:
    """``US``, ``US-CA`` (country and subdivision): checked against the ``holidays`` package."""
    import holidays

    country, _, subdiv = text.strip().upper().partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise UsageError(f"{where} {text!r}: not a country the holidays package knows (e.g. US, CA, GB, MX)")
    if subdiv and subdiv not in supported[country]:
        raise UsageError(f"{where} {text!r}: {country} has no subdivision {subdiv!r}")
    return f"{country}-{subdiv}" if subdiv else country


@cache
def _holiday_dates(calendar: str, year: int) -> frozenset[dt.date]:
    return frozenset(_holidays(calendar, year))


@cache
def _holidays(calendar: str, year: int) -> dict[dt.date, str]:
    import holidays

    country, _, subdiv = calendar.partition("-")
    return dict(holidays.country_holidays(country, subdiv=subdiv or None, years=year))


def _holiday_name(calendar: str, day: dt.date) -> str:
    if calendar.startswith(NAMED):
        return calendar.removeprefix(NAMED).title()
    return _holidays(calendar, day.year).get(day, "a public holiday")


Window = tuple[int, int]
#: Local hours per weekday (Monday first, 7 entries); None: no calls that day.
DayHours = tuple[Window | None, ...]


def meet(a: Window | None, b: Window | None) -> Window | None:
    """The intersection of two windows of a day (None: none)."""
    if a is None or b is None:
        return None
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return (start, end) if start < end else None


#: Holidays a state's law names that the ``holidays`` package's calendar of the state lacks, by name
#: (lower case), as the day of a year. A calendar written ``named:good friday`` is one of them.
NAMED_HOLIDAYS: dict[str, Callable[[int], dt.date]] = {
    "good friday": lambda year: easter(year) - dt.timedelta(days=2),
    "mardi gras": lambda year: easter(year) - dt.timedelta(days=47),
    "flag day": lambda year: dt.date(year, 6, 14),
    # The Tuesday after the first Monday of November.
    "election day": lambda year: dt.date(year, 11, 2) + dt.timedelta(days=(1 - dt.date(year, 11, 2).weekday()) % 7),
}
NAMED = "named:"


def is_holiday(calendar: str, day: dt.date) -> bool:
    """Whether ``day`` is a public holiday of ``calendar`` (``US``, ``US-TX``: the holidays package;
    ``named:good friday``: one of :data:`NAMED_HOLIDAYS`)."""
    if calendar.startswith(NAMED):
        return NAMED_HOLIDAYS[calendar.removeprefix(NAMED)](day.year) == day
    return day in _holiday_dates(calendar, day.year)


@dataclass(frozen=True)
class PlaceRules:
    """The rules that hold for contacts in one place (the job's, or with a state's or country's rules).

    ``hours`` hold every allowed day unless ``day_hours`` gives each weekday its own (a state's
    law: Rhode Island's Saturday); no call on a holiday of ``holidays`` (or, when given, of each of
    ``calendars``: each state a contact may be in); on a holiday of a ``holiday_hours`` calendar only
    within its window; and the hours hold in each ``fixed_zones`` too (a law stated in one zone).
    """

    hours: Window
    days: frozenset[int]
    holidays: str | None
    blackout: tuple[tuple[str, str], ...]
    day_hours: DayHours = ()
    calendars: tuple[str, ...] = ()
    holiday_hours: tuple[tuple[str, Window], ...] = ()
    fixed_zones: tuple[str, ...] = ()

    def weekday_hours(self, weekday: int) -> Window | None:
        """The hours of a weekday (0: Monday), holidays aside."""
        return self.day_hours[weekday] if self.day_hours else self.hours

    def hours_on(self, day: dt.date) -> Window | None:
        """The local hours calls may be made on ``day`` (None: none that day)."""
        hours = self.weekday_hours(day.weekday())
        for calendar, window in self.holiday_hours:
            if hours is not None and is_holiday(calendar, day):
                hours = meet(hours, window)
        return hours

    def allows_day(self, day: dt.date) -> bool:
        """Whether calls may be made on this local date at all."""
        return self.closed_by(day) is None

    def closed_by(self, day: dt.date) -> tuple[HoldReason, str] | None:
        """What forbids calls on this local date (the day of the week, a blackout, a public holiday),
        with its words; None when calls may be made on it."""
        if day.weekday() not in self.days:
            return HoldReason.CALLING_DAY, f"{day:%A %Y-%m-%d}"
        iso = day.isoformat()
        for first, last in self.blackout:
            if first <= iso <= last:
                return HoldReason.BLACKOUT, f"{first}..{last}" if first != last else first
        calendars = self.calendars or ((self.holidays,) if self.holidays else ())
        for calendar in calendars:
            if is_holiday(calendar, day):
                return HoldReason.HOLIDAY, f"{_holiday_name(calendar, day)} ({calendar}), {iso}"
        if self.hours_on(day) is None:  # a law that allows no calls on this weekday (a state's Sunday)
            return HoldReason.CALLING_DAY, f"{day:%A %Y-%m-%d}"
        return None

    def meet(self, other: PlaceRules) -> PlaceRules:
        """The strictest of two places' rules: a moment must be allowed by both."""
        return PlaceRules(
            meet(self.hours, other.hours) or (self.hours[0], self.hours[0]),
            self.days & other.days,
            self.holidays,
            _union(self.blackout, other.blackout),
            tuple(meet(self.weekday_hours(d), other.weekday_hours(d)) for d in range(7)),
            _union(self.calendars, other.calendars),
            _union(self.holiday_hours, other.holiday_hours),
            _union(self.fixed_zones, other.fixed_zones),
        )

    def with_state_rule(self, rule: StateLaw) -> PlaceRules:
        """These rules and a state's law together: the strictest of both."""
        hours = tuple(meet(self.weekday_hours(d), rule.hours[d]) for d in range(7))
        return replace(
            self,
            day_hours=hours,
            calendars=_union(
                self.calendars, (rule.holidays,) if rule.holidays else (), tuple(NAMED + n for n in rule.extra_holidays)
            ),
            holiday_hours=_union(self.holiday_hours, (rule.holiday_hours,) if rule.holiday_hours else ()),
            fixed_zones=_union(self.fixed_zones, (rule.fixed_zone,) if rule.fixed_zone else ()),
        )


class StateLaw(Protocol):
    """What a state's law sets (:class:`batchqueue.calling.state_rules.StateRule`)."""

    @property
    def hours(self) -> DayHours: ...
    @property
    def holidays(self) -> str | None: ...
    @property
    def holiday_hours(self) -> tuple[str, Window] | None: ...
    @property
    def fixed_zone(self) -> str | None: ...
    @property
    def extra_holidays(self) -> tuple[str, ...]: ...
    @property
    def citation(self) -> str: ...
    def describe(self) -> str: ...


_T = TypeVar("_T")


def _union(*parts: tuple[_T, ...]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(x for part in parts for x in part))


@dataclass(frozen=True)
class CallingRules:
    """A job's (or a run's) calling rules, with overrides per US state and per country."""

    base: PlaceRules
    states: dict[str, tuple[tuple[int, int] | None, frozenset[int] | None]] = field(default_factory=dict)
    countries: dict[str, tuple[tuple[int, int] | None, frozenset[int] | None]] = field(default_factory=dict)
    #: Each state's own law (``--state-rules us``; not part of :meth:`as_json`: the job stores them apart).
    state_laws: dict[str, StateLaw] = field(default_factory=dict)
    state_laws_version: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        hours: str | None = None,
        days: str | None = None,
        holidays: str | None = None,
        blackout: tuple[str, ...] = (),
        overrides: dict[str, Any] | None = None,
    ) -> CallingRules:
        """Rules from options as the user typed them (None: the default); :class:`UsageError` on a mistake."""
        base = PlaceRules(
            parse_hours(hours or DEFAULTS.calling_hours),
            parse_days(days or DEFAULTS.calling_days),
            check_holidays(holidays) if holidays else None,
            parse_blackout(blackout),
        )
        states, countries = _overrides(overrides or {})
        return cls(base, states, countries)

    def for_place(self, states: tuple[str, ...], country: str | None) -> PlaceRules:
        """The rules for a contact who may be in each of ``states`` (US) and is in ``country``: for each
        state its override (the mapping file's), else the job's rules with its law; the strictest of
        all (a state's override replaces its law and the job's hours and days there)."""
        own = self.countries.get(country) if country else None
        base = self.base
        if own is not None and not any(s in self.states for s in states):
            base = _overridden(self.base, own)
        found: PlaceRules | None = None
        for state in states:
            if state in self.states:
                mine = _overridden(self.base, self.states[state])
            elif state in self.state_laws:
                mine = base.with_state_rule(self.state_laws[state])
            else:
                mine = base
            found = mine if found is None else found.meet(mine)
        found = found or base
        return replace(found, calendars=_union(self._calendars(states), found.calendars))

    def _calendars(self, states: tuple[str, ...]) -> tuple[str, ...]:
        """The holiday calendars of the job's ``--holidays``: ``US`` means each contact's own
        states' (none known: the federal ones); ``US-CA`` means exactly California's."""
        given = self.base.holidays
        if not given:
            return ()
        if given != "US" or not states:
            return (given,)
        known = _us_subdivisions()
        return tuple(f"US-{s}" if s in known else "US" for s in states)

    @property
    def has_states(self) -> bool:
        """Whether some rule depends on a contact's US state (then the state is looked up)."""
        return bool(self.states or self.state_laws or self.base.holidays == "US")

    def with_state_laws(self, laws: Mapping[str, StateLaw], version: str | None) -> CallingRules:
        """These rules with each state's own law (the built-in state rules a job stored)."""
        return replace(self, state_laws=dict(laws), state_laws_version=version)

    def check_federal(self) -> None:
        """Every hours these rules give (the job's, each state's and country's override) within the
        federal 08:00-21:00, or :class:`UsageError` naming the one that is not."""
        check_federal(self.base.hours, "--calling-hours")
        for kind, table in (("states", self.states), ("countries", self.countries)):
            for place, (hours, _days) in sorted(table.items()):
                if hours:
                    check_federal(hours, f"[calling.{kind}.{place}] hours")

    def describe(self) -> str:
        """One line, as a person would read it."""
        b = self.base
        text = f"{clock(b.hours[0])}-{clock(b.hours[1])} local, {_days_text(b.days)}"
        if b.holidays:
            text += f", not on {b.holidays} holidays"
        if b.blackout:
            text += ", not " + ", ".join(f if f == last else f"{f}..{last}" for f, last in b.blackout)
        for kind, table in (("state", self.states), ("country", self.countries)):
            for place, (hours, days) in sorted(table.items()):
                parts = [f"{clock(hours[0])}-{clock(hours[1])}" if hours else "", _days_text(days) if days else ""]
                text += f"; {kind} {place}: " + ", ".join(p for p in parts if p)
        if self.state_laws:
            text += f"; US state rules {self.state_laws_version}"
        return text

    def as_json(self) -> dict[str, Any]:
        """What is stored on the job."""
        b = self.base

        def place(hours: tuple[int, int] | None, days: frozenset[int] | None) -> dict[str, Any]:
            return {"hours": list(hours) if hours else None, "days": sorted(days) if days is not None else None}

        return {
            "hours": list(b.hours),
            "days": sorted(b.days),
            "holidays": b.holidays,
            "blackout": [list(r) for r in b.blackout],
            "states": {k: place(*v) for k, v in self.states.items()},
            "countries": {k: place(*v) for k, v in self.countries.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CallingRules:
        """Rules as stored (None: a job imported before calling rules: the defaults)."""
        if not data:
            return cls.parse()

        def place(v: dict[str, Any]) -> tuple[tuple[int, int] | None, frozenset[int] | None]:
            hours = v.get("hours")
            days = v.get("days")
            return (tuple(hours) if hours else None, frozenset(days) if days is not None else None)

        base = PlaceRules(
            (int(data["hours"][0]), int(data["hours"][1])),
            frozenset(int(d) for d in data["days"]),
            data.get("holidays"),
            tuple((str(a), str(b)) for a, b in data.get("blackout", [])),
        )
        return cls(
            base,
            {k: place(v) for k, v in data.get("states", {}).items()},
            {k: place(v) for k, v in data.get("countries", {}).items()},
        )


def _overridden(base: PlaceRules, found: tuple[tuple[int, int] | None, frozenset[int] | None]) -> PlaceRules:
    hours, days = found
    return replace(base, hours=hours or base.hours, days=days if days is not None else base.days)


@cache
def _us_subdivisions() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries()["US"])


def _overrides(
    table: dict[str, Any],
) -> tuple[
    dict[str, tuple[tuple[int, int] | None, frozenset[int] | None]],
    dict[str, tuple[tuple[int, int] | None, frozenset[int] | None]],
]:
    """The mapping file's ``[calling.states.XX]`` and ``[calling.countries.XX]`` tables."""
    unknown = sorted(set(table) - {"states", "countries"})
    if unknown:
        raise UsageError(f"[calling] has unknown table(s) {', '.join(unknown)}; known: states, countries")
    found: list[dict[str, tuple[tuple[int, int] | None, frozenset[int] | None]]] = []
    for kind in ("states", "countries"):
        places: dict[str, tuple[tuple[int, int] | None, frozenset[int] | None]] = {}
        for place, values in (table.get(kind) or {}).items():
            where = f"[calling.{kind}.{place}]"
            if not re.fullmatch(r"[A-Za-z]{2}", place) or not isinstance(values, dict):
                raise UsageError(f"{where}: expected a two-letter code with a table of hours and days")
            bad = sorted(set(values) - set(_PLACE_KEYS))
            if bad:
                raise UsageError(f"{where}: unknown key(s) {', '.join(bad)}; known: hours, days")
            hours = parse_hours(str(values["hours"]), f"{where} hours") if "hours" in values else None
            days = parse_days(str(values["days"]), f"{where} days") if "days" in values else None
            places[place.upper()] = (hours, days)
        found.append(places)
    return found[0], found[1]


def clock(minutes: int) -> str:
    """Minutes after midnight as HH:MM."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "every day"
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{DAY_NAMES[ordered[0]]}-{DAY_NAMES[ordered[-1]]}"
    return ",".join(DAY_NAMES[d] for d in ordered)


#: What a run's options leave unsaid: no restriction (a run narrows the job's rules, or with
#: ``--widen-calling-rules`` replaces the parts it names).
_OPEN = {"hours": "00:00-24:00", "days": "all"}


def run_rules(
    job_rules: CallingRules,
    *,
    hours: str | None,
    days: str | None,
    holidays: str | None,
    blackout: tuple[str, ...],
    widen: bool,
) -> list[CallingRules]:
    """The rule sets a run applies: the job's, and the run's own where it gave any (a moment must
    be allowed by all). With ``widen`` the run's options replace the job's parts they name instead."""
    given = hours is not None or days is not None or holidays is not None or bool(blackout)
    if not given:
        if widen:
            raise UsageError("--widen-calling-rules: give the rules that replace the job's (--calling-hours, --days…)")
        return [job_rules]
    if widen:
        b = job_rules.base
        base = PlaceRules(
            parse_hours(hours) if hours else b.hours,
            parse_days(days) if days else b.days,
            check_holidays(holidays) if holidays else b.holidays,
            parse_blackout(blackout) if blackout else b.blackout,
        )
        return [replace(job_rules, base=base)]
    narrowing = CallingRules.parse(
        hours=hours or _OPEN["hours"], days=days or _OPEN["days"], holidays=holidays, blackout=blackout
    )
    return [job_rules, narrowing]
