"""A US state or territory as a state column writes it, to its USPS code.

Codes and names come from pycountry's ISO 3166-2:US subdivisions (the 50 states, DC and the
territories, whose ISO codes are the USPS ones); a cell is read in any letter case, with or
without dots and spaces (``fl``, ``Florida``, ``NEW YORK``, ``D.C.``), a few names as CRMs
write them (``Virgin Islands``, ``Washington DC``), the abbreviations of the GPO Style Manual and
the AP Stylebook that addresses and newspapers still use (``Fla.``, ``Okla.``, ``Calif.``,
``N. Dak.``), and the ISO form or a trailing country (``US-FL``, ``Florida, USA``). Anything else
is None: the caller warns.

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
#: The traditional abbreviations (U.S. Government Publishing Office Style Manual, "Abbreviations and
#: letter symbols": Ala., Ariz., … Wyo.; the AP Stylebook's Kan., Neb., Ore., N.M., N.D., S.D.; and
#: forms lists write without a rule: Cal., Ida., Penn., Penna., Wisc.), keyed as letters only; those
#: that are USPS codes too (Ga., La., Pa.) are read as codes already.
_TRADITIONAL = {
    "ala": "AL", "ariz": "AZ", "ark": "AR", "cal": "CA", "calif": "CA", "colo": "CO", "conn": "CT",
    "del": "DE", "fla": "FL", "ida": "ID", "ill": "IL", "ind": "IN", "kan": "KS", "kans": "KS",
    "mass": "MA", "mich": "MI", "minn": "MN", "miss": "MS", "mont": "MT", "neb": "NE", "nebr": "NE",
    "nev": "NV", "nmex": "NM", "ndak": "ND", "okla": "OK", "ore": "OR", "oreg": "OR", "penn": "PA",
    "penna": "PA", "sdak": "SD", "tenn": "TN", "tex": "TX", "wash": "WA", "wva": "WV", "wis": "WI",
    "wisc": "WI", "wyo": "WY",
}  # fmt: skip
#: The country written before or after the state: ``US-FL`` (ISO 3166-2), ``Florida, USA``, ``FL US``.
_COUNTRY_AROUND = re.compile(
    r"\s*US\s*[-:,/ ]\s*(?P<before>.+)|(?P<after>.+?)[\s,/-]+(?:U\.?S\.?A?\.?|United\s+States(?:\s+of\s+America)?)\s*",
    re.IGNORECASE,
)
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
    found.update(_TRADITIONAL)
    found.update(_ALIASES)
    return found


def state_code(text: str) -> str | None:
    """The USPS code of the US state or territory ``text`` names, or None."""
    if len(text) > 64:  # no state's name is that long: a cell may be
        return None
    found = _states().get(_key(text))
    if found is None:
        around = _COUNTRY_AROUND.fullmatch(text)
        if around is not None:
            found = _states().get(_key(around.group("before") or around.group("after")))
    return found
