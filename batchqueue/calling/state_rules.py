"""The built-in US state rules (``--state-rules us``, the default): each state's own calling hours per
weekday, its Sunday and holiday bans, read from the versioned ``us_state_rules.toml`` in
``batchqueue/places/data`` (every entry cites its statute; see ``SOURCES.md`` there).

A job stores the rules it was imported under (:meth:`StateRules.option`: the version and each state's
rule), so a later version of the file never changes an existing job's rules; every run applies the
stored ones. The caps of the same file are :mod:`batchqueue.calling.state_caps`.

Usage::

    rules = state_rules()
    rules.version                       # "2026.12"
    rules.states["RI"].hours[5]         # (600, 1020): Saturday 10:00-17:00
    rules.states["AL"].hours[6]         # None: no calls on Sunday
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from batchqueue.calling.rules import NAMED_HOLIDAYS, parse_hours
from batchqueue.errors import UsageError

_DATA = Path(__file__).resolve().parent.parent / "places" / "data"
#: ``--state-rules us``: the built-in rules; ``none`` turns them off.
BUILT_IN = "us"
OFF = "none"
#: Day groups of the file's ``hours`` tables, and the weekdays (Monday 0) each covers.
_GROUPS = {"mon-fri": range(5), "sat": (5,), "sun": (6,)}

DayHours = tuple[tuple[int, int] | None, ...]  # 7 entries, Monday first; None: no calls that day


@dataclass(frozen=True)
class StateRule:
    """One state's calling rule: its local hours each weekday, its holiday ban, the laws it comes from."""

    state: str
    hours: DayHours
    #: The ``holidays`` calendar (``US-RI``) on whose days no call is made; None: no holiday ban.
    holidays: str | None = None
    #: Hours allowed on that calendar's holidays when the state does not ban them (Nebraska's 13:00-21:00).
    holiday_hours: tuple[str, tuple[int, int]] | None = None
    #: A zone the law states its hours in, whatever the contact's (Mississippi: Central Standard Time).
    fixed_zone: str | None = None
    citation: str = ""
    #: Holidays the law names that the calendar lacks (keys of ``NAMED_HOLIDAYS``: "good friday").
    extra_holidays: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """As the job stores it."""
        return {
            "hours": [list(h) if h else None for h in self.hours],
            "holidays": self.holidays,
            "holiday_hours": [self.holiday_hours[0], list(self.holiday_hours[1])] if self.holiday_hours else None,
            "fixed_zone": self.fixed_zone,
            "citation": self.citation,
            "extra_holidays": list(self.extra_holidays),
        }

    @classmethod
    def from_json(cls, state: str, data: dict[str, Any]) -> StateRule:
        """A rule as a job stored it."""
        hours = tuple((int(h[0]), int(h[1])) if h else None for h in data["hours"])
        given = data.get("holiday_hours")
        holiday_hours = (str(given[0]), (int(given[1][0]), int(given[1][1]))) if given else None
        return cls(
            state,
            hours,
            data.get("holidays"),
            holiday_hours,
            data.get("fixed_zone"),
            data.get("citation", ""),
            tuple(data.get("extra_holidays") or ()),
        )

    def describe(self) -> str:
        """The rule in a few words: ``mon-fri 09:00-18:00, sat 10:00-17:00, sun none; no holidays (US-RI)``."""
        from batchqueue.calling.rules import clock

        def text(h: tuple[int, int] | None) -> str:
            return f"{clock(h[0])}-{clock(h[1])}" if h else "none"

        groups = [(name, text(self.hours[days[0]])) for name, days in _GROUPS.items()]
        if len({t for _, t in groups}) == 1:
            said = f"{groups[0][1]} every day"
        else:
            said = ", ".join(f"{name} {t}" for name, t in groups)
        if self.holidays:
            said += f"; not on {self.holidays} holidays"
        if self.extra_holidays:
            said += f" nor {', '.join(self.extra_holidays)}"
        if self.holiday_hours:
            said += f"; {text(self.holiday_hours[1])} on {self.holiday_hours[0]} holidays"
        if self.fixed_zone:
            said += f"; also within those hours in {self.fixed_zone}"
        return said


@dataclass(frozen=True)
class StateRules:
    """Every state's rule of one version of the state rules file."""

    version: str
    states: dict[str, StateRule]

    def option(self) -> dict[str, Any]:
        """As a job stores ``--state-rules us``."""
        return {
            "rules": BUILT_IN,
            "version": self.version,
            "states": {state: rule.as_json() for state, rule in sorted(self.states.items())},
        }


def stored_state_rules(option: dict[str, Any] | None) -> dict[str, StateRule]:
    """The state rules a job stored (``{"rules": "none"}`` or nothing: none)."""
    if not option or option.get("rules") != BUILT_IN:
        return {}
    return {state: StateRule.from_json(state, data) for state, data in (option.get("states") or {}).items()}


def state_rules_option(which: str) -> dict[str, Any]:
    """What a job stores for ``--state-rules which``."""
    if which == OFF:
        return {"rules": OFF}
    if which != BUILT_IN:
        raise UsageError(f"--state-rules {which!r}: expected {BUILT_IN} or {OFF}")
    return state_rules().option()


@cache
def state_rules() -> StateRules:
    """The rules of the state rules file this package carries (read once)."""
    data = tomllib.loads((_DATA / "us_state_rules.toml").read_text(encoding="utf-8"))
    found: dict[str, StateRule] = {}
    for state, table in sorted(data.get("states", {}).items()):
        found[state] = _rule(state, table)
    return StateRules(str(data["version"]), found)


def _rule(state: str, table: dict[str, Any]) -> StateRule:
    where = f"us_state_rules.toml [states.{state}]"
    days: list[tuple[int, int] | None] = [None] * 7
    hours = table.get("hours") or {}
    for group, weekdays in _GROUPS.items():
        value = str(hours.get(group, "none")).strip()
        window = None if value == "none" else parse_hours(value, f"{where} hours.{group}")
        for weekday in weekdays:
            days[weekday] = window
    calendar = table.get("holiday_calendar") or f"US-{state}"
    holiday_hours = None
    if table.get("holiday_hours") and not table.get("holidays"):
        holiday_hours = (calendar, parse_hours(str(table["holiday_hours"]), f"{where} holiday_hours"))
    extra: list[str] = []
    for named in table.get("holidays_extra", ()) if table.get("holidays") else ():
        key = next((k for k in NAMED_HOLIDAYS if str(named).lower().startswith(k)), None)
        if key is None:
            raise ValueError(f"{where} holidays_extra: {named!r} is not a holiday batchqueue can date")
        extra.append(key)
    return StateRule(
        state,
        tuple(days),
        calendar if table.get("holidays") else None,
        holiday_hours,
        table.get("fixed_zone"),
        "; ".join(str(c) for c in table.get("citation", ())),
        tuple(extra),
    )
