"""A North American area code to every state and zone its territory spans.

From ``data/nanp_area_codes.csv`` (every geographic code NANPA lists for the US, its territories
and Canada; how it was made and from which sources: ``data/SOURCES.md``). An overlay has its
parents' states and zones (448 of 850: Florida, Central and Eastern). Where phonenumbers knows a
second zone only for some exchanges of a code (850's Pensacola exchanges are Central), the table
already gives the code both: a number keeps its area code when it moves or is ported within the
code's territory, so its exchange never narrows where it may be. Codes of the plan's other
countries (876 Jamaica, 809 Dominican Republic) are not in the table: their country's zone is
phonenumbers'.

Usage::

    area_code("448")    # AreaCode(code='448', states=('FL',), zones=('America/Chicago', 'America/New_York'), ...)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class AreaCode:
    """One NANP area code: where its numbers may be."""

    code: str
    country: str  # ISO 3166-1 alpha-2: US (territories included) or CA
    states: tuple[str, ...]  # US states and territories (USPS codes); () for Canada
    zones: tuple[str, ...]  # every IANA zone any part of its territory keeps, sorted
    overlay_of: tuple[str, ...]  # the codes whose territory it overlays


@cache
def _table() -> dict[str, AreaCode]:
    text = resources.files("batchqueue.places").joinpath("data", "nanp_area_codes.csv").read_text(encoding="utf-8")
    table: dict[str, AreaCode] = {}
    for record in csv.DictReader(text.splitlines()):
        places = [p for p in record["states"].split("|") if p]
        countries = {p.split("-")[0] for p in places}
        table[record["area_code"]] = AreaCode(
            record["area_code"],
            countries.pop() if len(countries) == 1 else "US",
            tuple(sorted(p.removeprefix("US-") for p in places if p.startswith("US-"))),
            tuple(sorted(z for z in record["zones"].split("|") if z)),
            tuple(c for c in record["overlay_of"].split("|") if c),
        )
    return table


def area_code(code: str) -> AreaCode | None:
    """The area code's states and zones, or None for a code the table does not list."""
    return _table().get(code)


def all_area_codes() -> list[AreaCode]:
    """Every area code of the table."""
    return list(_table().values())
