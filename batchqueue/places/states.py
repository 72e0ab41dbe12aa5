"""A US state or territory as a state column writes it, to its USPS code.

Codes and names come from pycountry's ISO 3166-2:US subdivisions (the 50 states, DC and the
territories, whose ISO codes are the USPS ones); a cell is read in any letter case, with or
without dots and spaces (``fl``, ``Florida``, ``NEW YORK``, ``D.C.``), and a few names as CRMs
write them (``Virgin Islands``, ``Washington DC``). Anything else is None: the caller warns.

Usage::

    state_code("Florida")    # "FL"
    state_code("Ontario")    # None
"""

from __future__ import annotations

import re
from functools import cache

#: Everyday names pycountry does not list under these words.
_ALIASES = {
    "washingtondc": "DC",
    "washingtondistrictofcolumbia": "DC",
    "virginislands": "VI",
    "usvirginislands": "VI",
    "unitedstatesvirginislands": "VI",
    "northernmarianas": "MP",
    "cnmi": "MP",
}
_NOT_LETTERS = re.compile(r"[^a-z]")


def _key(text: str) -> str:
    return _NOT_LETTERS.sub("", text.casefold())


@cache
def _states() -> dict[str, str]:
    import pycountry

    found: dict[str, str] = {}
    for subdivision in pycountry.subdivisions.get(country_code="US") or ():  # type: ignore[no-untyped-call]
        code = subdivision.code.removeprefix("US-")
        found[_key(code)] = code
        found[_key(subdivision.name)] = code
    found.update(_ALIASES)
    return found


def state_code(text: str) -> str | None:
    """The USPS code of the US state or territory ``text`` names, or None."""
    if len(text) > 64:  # no state's name is that long: a cell may be
        return None
    return _states().get(_key(text)) or None
