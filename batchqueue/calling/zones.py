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

A contact's US state (for per-state overrides) comes from its ZIP, else from its area code
(the ``zipcodes`` data lists the area codes of every ZIP; an area code of one state names it).

Usage::

    finder = ZoneFinder(default_zone=None)
    finder.find("+19075550100", {})   # ContactZone(zones=('America/Adak', 'America/Anchorage'), source='number', ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import phonenumbers
from phonenumbers.tzdata import TIMEZONE_DATA

from batchqueue.intake.mapping.zips import area_code_state

_UNKNOWN = "Etc/Unknown"
#: Longest time-zone prefix of the North American plan (+1): numbers sharing this many leading
#: characters of their E.164 share their zones and region, so lookups are cached by it.
_NANP_KEY = 1 + max(len(k) for k in TIMEZONE_DATA if k.startswith("1"))
_OTHER_KEY = 1 + max(len(k) for k in TIMEZONE_DATA)


@dataclass(frozen=True)
class ContactZone:
    """Where a contact is, for its calling window."""

    zones: tuple[str, ...]
    source: str  # column, zip, number, default, region
    country: str | None = None
    state: str | None = None

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


@lru_cache(maxsize=1 << 18)
def _by_prefix(key: str) -> tuple[tuple[str, ...], str | None]:
    """(zones from the number's geography, or () when it has none; its country) for an E.164 prefix."""
    try:
        number = phonenumbers.parse(key + "0" * max(0, 12 - len(key)))
    except phonenumbers.NumberParseException:
        return (), None
    code = number.country_code or 0
    country = phonenumbers.region_code_for_number(number) or phonenumbers.region_code_for_country_code(code)
    if country in (None, "ZZ", "001"):
        return (), None
    digits = key[1:]
    for n in range(len(digits), len(str(code)), -1):
        zones = TIMEZONE_DATA.get(digits[:n])
        if zones is not None:
            return tuple(z for z in zones if z != _UNKNOWN), country
    return (), country  # only the whole country matched: the number says nothing of where it is


class ZoneFinder:
    """Finds each contact's zones (see the module docstring). Cheap per row: cached by prefix."""

    def __init__(self, default_zone: str | None = None, *, need_state: bool = False) -> None:
        self.default_zone = default_zone
        self.need_state = need_state

    def find(self, e164: str, facts: dict[str, Any]) -> ContactZone | None:
        """The contact's zones, or None when nothing maps and its country is unknown."""
        key = e164[:_NANP_KEY] if e164.startswith("+1") else e164[:_OTHER_KEY]
        from_number, number_country = _by_prefix(key)
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
