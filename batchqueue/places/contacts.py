"""Every zone and every state a contact may be in, and which source named each.

Every source counts (none wins over another): a contact may be wherever any of them says.

- ``column``: the row's own time-zone cell (``facts["timezone"]``, or ``facts["timezones"]`` when
  the cell names several clocks, e.g. ``MST``: Denver and Phoenix), read at import;
- ``zip``: its US ZIP code (``facts["zip_timezone"]`` and ``facts["state"]``, read at import; a
  ZIP's first three digits may name several: ``facts["zip_timezones"]``, ``facts["zip_states"]``);
- ``state``: its state column (``facts["states"]``, read at import): the state, and every zone any
  area code of the state keeps (:func:`state_zones`: a contact listed in Florida may be in Pensacola
  or Miami, one listed in California is on Pacific time whatever its number's area code), unless
  its ZIP is in that state (the ZIP says where in it); alone, beside the default or the country's
  zones, never instead of them;
- ``number``: its area code (:mod:`batchqueue.places.area_codes`: every zone and state of the
  code's territory, overlays included); outside the US and Canada, phonenumbers' zones for the
  number's longest known prefix;
- ``default``: ``--default-timezone``, only when none of the above names a zone;
- ``region``: without a default either, every zone of the number's country (``tzdata``'s
  ``zone.tab``), whose intersection is the country's safe window (for the US about 13:00-21:00
  Eastern).

The zones are the union of every source's; the calling window is their intersection. The states are
the union of the ZIP's state, the state column's and the area code's states (Florida and Oklahoma presume that a call
to an in-state area code reaches a resident, so a Florida number with a New York ZIP is in both).

Usage::

    finder = ZoneFinder(default_zone=None)
    finder.find("+12125550100", {"zip_timezone": "America/Los_Angeles", "state": "CA"})
    # ContactZone(zones=('America/Los_Angeles', 'America/New_York'), source='zip+number', states=('CA', 'NY'), ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.tzdata import TIMEZONE_DATA

from batchqueue.places.area_codes import all_area_codes, area_code

_UNKNOWN = "Etc/Unknown"
#: The longest number prefix phonenumbers' zone data reads (digits after the "+").
LONGEST_PREFIX = _LONGEST = max(len(k) for k in TIMEZONE_DATA)
_CODES = frozenset(COUNTRY_CODE_TO_REGION_CODE)
#: The order sources are shown in.
SOURCES = ("column", "zip", "state", "number", "default", "region")


@dataclass(frozen=True)
class PlaceSource:
    """What one source says of where a contact is."""

    name: str  # column, zip, state, number, default, region
    zones: tuple[str, ...]
    states: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """``number: America/Chicago, America/New_York (FL)``."""
        where = ", ".join(self.zones) if self.name != "region" else f"all {len(self.zones)} zones"
        if self.name == "state" or not where:  # what the column said first: "state: FL (America/Chicago, …)"
            return f"{self.name}: {', '.join(self.states)}" + (f" ({where})" if where else "")
        return f"{self.name}: {where}" + (f" ({', '.join(self.states)})" if self.states else "")


@dataclass(frozen=True)
class ContactZone:
    """Where a contact may be, for its calling window and its state's rules."""

    zones: tuple[str, ...]  # every zone any source names, sorted; the window is their intersection
    source: str  # the sources that named its zones, "+"-joined in SOURCES order: "zip+number"
    country: str | None = None
    states: tuple[str, ...] = ()  # every US state any source names (USPS codes), sorted
    sources: tuple[PlaceSource, ...] = ()  # each source and what it named

    @property
    def state(self) -> str | None:
        """The first of its states (for code that knows one state only)."""
        return self.states[0] if self.states else None

    @property
    def label(self) -> str:
        """The zone(s) as the report shows them."""
        if self.source == "region":
            return f"{self.country}: all {len(self.zones)} zones"
        return " & ".join(self.zones)

    @property
    def places_text(self) -> str:
        """Each source and what it named: ``zip: America/Los_Angeles (CA); number: America/New_York (NY)``."""
        return "; ".join(s.text for s in self.sources)

    @property
    def stored_source(self) -> str:
        """``source`` as the ledger's 16-character column holds it ("several" beyond that)."""
        return self.source if len(self.source) <= 16 else "several"


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


@cache
def state_zones(state: str) -> tuple[str, ...]:
    """Every zone any area code of a US state or territory (USPS code) keeps, sorted: where a
    contact its state column places there may be (``FL``: Central and Eastern)."""
    return tuple(sorted({z for code in all_area_codes() if state in code.states for z in code.zones}))


@cache
def _nanp_place(code: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    found = area_code(code)
    return (found.zones, found.states) if found is not None else None


def number_places(e164: str) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """(zones, US states, country) from the number alone; zones () when only its country is known.

    A US or Canadian number: its area code's (see :mod:`batchqueue.places.area_codes`). Any other:
    phonenumbers' own lookup (the longest prefix in its time-zone data), without parsing the number
    each time: a claim asks this for every row it sends.
    """
    digits = e164[1:]
    code = (
        1 if digits[:1] == "1" else next((n for n in (2, 3) if digits[:n].isdigit() and int(digits[:n]) in _CODES), 0)
    )
    if not code:
        return (), (), None
    country = _country_of(e164[: 1 + code + 3], e164)
    if code == 1:
        nanp = _nanp_place(digits[1:4])
        if nanp is not None:
            return nanp[0], nanp[1], country
    for n in range(min(len(digits), _LONGEST), code, -1):
        zones = TIMEZONE_DATA.get(digits[:n])
        if zones is not None:
            return (zones if _UNKNOWN not in zones else tuple(z for z in zones if z != _UNKNOWN)), (), country
    return (), (), country  # only the whole country matched: the number says nothing of where it is


class ZoneFinder:
    """Finds each contact's zones and states (see the module docstring). Cheap per row: the number's
    place is cached by prefix, and the contact's by what its sources said."""

    def __init__(self, default_zone: str | None = None) -> None:
        self.default_zone = default_zone
        self._found: dict[tuple[Any, ...], ContactZone | None] = {}

    def find(self, e164: str, facts: dict[str, Any] | None) -> ContactZone | None:
        """Where the contact may be, or None when nothing maps and its country is unknown."""
        facts = facts or {}
        from_number, number_states, number_country = number_places(e164)
        country = facts.get("region") or number_country
        column = tuple(facts.get("timezones") or ((facts["timezone"],) if facts.get("timezone") else ()))
        zip_zones = tuple(facts.get("zip_timezones") or ((facts["zip_timezone"],) if facts.get("zip_timezone") else ()))
        zip_states = tuple(
            str(s).removeprefix("US-")
            for s in facts.get("zip_states") or ((facts["state"],) if facts.get("state") else ())
        )
        listed = tuple(sorted(str(s).removeprefix("US-") for s in facts.get("states") or ()))
        key = (from_number, number_states, country, column, zip_zones, zip_states, listed)
        if key not in self._found:
            if len(self._found) > 65536:
                self._found.clear()
            self._found[key] = self._place(*key)
        return self._found[key]

    def _place(
        self,
        from_number: tuple[str, ...],
        number_states: tuple[str, ...],
        country: str | None,
        column: tuple[str, ...],
        zip_zones: tuple[str, ...],
        zip_states: tuple[str, ...],
        listed_states: tuple[str, ...] = (),
    ) -> ContactZone | None:
        sources: list[PlaceSource] = []
        if column:
            sources.append(PlaceSource("column", column))
        if zip_zones or zip_states:
            sources.append(PlaceSource("zip", zip_zones, zip_states))
        if listed_states:
            # A ZIP in the listed state says where in it the contact is: its zone, not all the state's.
            zones_of_states = tuple(
                sorted({z for state in listed_states if state not in zip_states for z in state_zones(state)})
            )
            sources.append(PlaceSource("state", zones_of_states, listed_states))
        if from_number or number_states:
            sources.append(PlaceSource("number", from_number, number_states))
        states = tuple(sorted({s for p in sources for s in p.states}))
        named = [p for p in sources if p.zones]
        if any(p.name != "state" for p in named):
            zones = tuple(sorted({z for p in named for z in p.zones}))
            return ContactZone(zones, "+".join(p.name for p in named), country, states, tuple(sources))
        # A state column alone does not replace the default or the country's zones: it counts beside them
        # (an 800 number listed in California still gets the country's safe window).
        listed = {z for p in named for z in p.zones}
        if self.default_zone:
            fallback = PlaceSource("default", (self.default_zone,))
            zones = tuple(sorted({*fallback.zones, *listed}))
            return ContactZone(zones, "state+default" if listed else "default", country, states, (*sources, fallback))
        found = country_zones(country) if country else ()
        if not found:
            return ContactZone(tuple(sorted(listed)), "state", country, states, tuple(sources)) if listed else None
        region = PlaceSource("region", found)
        zones = tuple(sorted({*found, *listed}))
        return ContactZone(
            zones, "region" if listed <= set(found) else "state+region", country, states, (*sources, region)
        )
