"""Each contact's time zone(s), and which source decided them.

In this order (the first that maps wins):

1. ``column``: the row's own time-zone column (``facts["timezone"]``, read at import);
2. ``zip``: its ZIP code (``facts["zip_timezone"]``, from the ``zipcodes`` package's data at import);
3. ``number``: phonenumbers' time-zone data for the number's prefix; an area code spanning two
   zones gives both (907 → Adak and Anchorage), and the window is then their intersection;
4. ``default``: ``--default-timezone``, for numbers nothing maps (non-geographic: 800s, mobiles
   where the plan has no geography);
5. ``region``: without a default, every zone of the number's country (``tzdata``'s ``zone.tab``),
   whose intersection is the country's safe window (for the US about 13:00-21:00 Eastern).

A contact's US state (for per-state rules) comes from its ZIP, else from its area code (an area
code of one state in ``places/data/nanp_area_codes.csv`` names it).

Usage::

    finder = ZoneFinder(default_zone=None)
    finder.find("+19075550100", {})   # ContactZone(zones=('America/Adak', 'America/Anchorage'), source='number', ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.tzdata import TIMEZONE_DATA

from batchqueue.calling.state_caps import area_code_state

_UNKNOWN = "Etc/Unknown"
_LONGEST = max(len(k) for k in TIMEZONE_DATA)
_CODES = frozenset(COUNTRY_CODE_TO_REGION_CODE)


@dataclass(frozen=True)
class ContactZone:
    """Where a contact is, for its calling window."""

    zones: tuple[str, ...]
    source: str  # column, zip, number, default, region
    country: str | None = None
    state: str | None = None
    #: Every US state any source names (the strictest rule of all of them applies).
    states: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.states and self.state:
            object.__setattr__(self, "states", (self.state,))

    @property
    def label(self) -> str:
        """The zone(s) as the report shows them."""
        if self.source == "region":
            return f"{self.country}: all {len(self.zones)} zones"
        return " & ".join(self.zones)


def display_zone(label: str, source: str | None) -> str:
    """The one zone a window is shown in: the first of several; UTC for a country's safe window."""
    return "UTC" if source == "region" else label.split(" & ")[0]


@cache
def country_zones(country: str) -> tuple[str, ...]:
    """Every IANA zone of a country (ISO alpha-2), from ``tzdata``'s ``zone.tab``."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    found = [line.split("\t")[2] for line in text.splitlines() if line.startswith(country + "\t")]
    return tuple(sorted(found))


_COUNTRIES: dict[str, str | None] = {}


def _country_of(prefix: str, e164: str) -> str | None:
    """The country (ISO alpha-2) of ``e164``, cached for every number starting with ``prefix``
    (its country code and 3 digits: enough for the North American plan's area codes)."""
    if prefix not in _COUNTRIES:
        try:
            number = phonenumbers.parse(e164)
        except phonenumbers.NumberParseException:
            return None
        code = number.country_code or 0
        country = phonenumbers.region_code_for_number(number) or phonenumbers.region_code_for_country_code(code)
        if len(_COUNTRIES) > 65536:
            _COUNTRIES.clear()
        _COUNTRIES[prefix] = None if country in (None, "ZZ", "001") else country
    return _COUNTRIES[prefix]


def number_place(e164: str) -> tuple[tuple[str, ...], str | None]:
    """(zones from the number's geography, or () when only its country is known; its country).

    phonenumbers' own lookup (the longest prefix in its time-zone data), without parsing the
    number each time: a claim asks this for every row it sends.
    """
    digits = e164[1:]
    code = (
        1 if digits[:1] == "1" else next((n for n in (2, 3) if digits[:n].isdigit() and int(digits[:n]) in _CODES), 0)
    )
    if not code:
        return (), None
    country = _country_of(e164[: 1 + code + 3], e164)
    for n in range(min(len(digits), _LONGEST), code, -1):
        zones = TIMEZONE_DATA.get(digits[:n])
        if zones is not None:
            return (zones if _UNKNOWN not in zones else tuple(z for z in zones if z != _UNKNOWN)), country
    return (), country  # only the whole country matched: the number says nothing of where it is


class ZoneFinder:
    """Finds each contact's zones (see the module docstring). Cheap per row: cached by prefix."""

    def __init__(self, default_zone: str | None = None, *, need_state: bool = False) -> None:
        self.default_zone = default_zone
        self.need_state = need_state

    def find(self, e164: str, facts: dict[str, Any]) -> ContactZone | None:
        """The contact's zones, or None when nothing maps and its country is unknown."""
        from_number, number_country = number_place(e164)
        country = facts.get("region") or number_country
        state = facts.get("state")
        if state is None and self.need_state and e164.startswith("+1"):
            state = area_code_state(e164[2:5])
        if facts.get("timezone"):
            return ContactZone((facts["timezone"],), "column", country, state)
        if facts.get("zip_timezone"):
            return ContactZone((facts["zip_timezone"],), "zip", country, state)
        if from_number:
            return ContactZone(from_number, "number", country, state)
        if self.default_zone:
            return ContactZone((self.default_zone,), "default", country, state)
        zones = country_zones(country) if country else ()
        return ContactZone(zones, "region", country, state) if zones else None
