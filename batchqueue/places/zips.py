"""US ZIP codes to their time zone and state, from the ``zipcodes`` package's embedded data.

The data ships inside the package (no download at run time). A ZIP is read as people and
spreadsheets write it (USPS Publication 28: five digits, ZIP+4 adds a hyphen and four more):
``02134``, ``02134-1234``, ``02134 1234``, ``021341234`` (ZIP+4 without its hyphen), ``2134`` or
``21341234`` (a numeric column dropped the leading zero), ``2134.0`` (a column saved as numbers).
A ZIP the data does not know, or whose zone is missing or not a real IANA name, gives nothing, and
the contact's zone then comes from its number. Three digits (``325``) are a ZIP's first three, the
sectional center facility's prefix USPS sorts by, or a ZIP whose two leading zeros a numeric column
dropped (``601`` for 00601, Adjuntas, Puerto Rico): :func:`zip_places` gives every place either may
be (325 is Pensacola's Central time; 601 is Puerto Rico or Chicago's northern suburbs).

Usage::

    zip_place("02134-1234")    # ("America/New_York", "MA")
    zip_places("601")          # (("America/Puerto_Rico", "PR"), ("America/Chicago", "IL"))
    zip_places("36867")        # Phenix City: (("America/Chicago", "AL"), ("America/New_York", "AL"))

An area code's states are :mod:`batchqueue.places.area_codes`' (the ZIP data lists the codes of
each ZIP, but border ZIPs list their neighbours' codes, so it cannot say which state a code serves).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from zoneinfo import available_timezones

#: Five digits (fewer when a numeric column dropped leading zeros), then a ZIP+4's four digits after
#: a hyphen, a space or nothing; or a number a spreadsheet stored as ``32501.0``.
_ZIP = re.compile(r"\s*(\d{3,5})(?:\s*[-\u2010-\u2015\s]\s*\d{4})?\s*")
_ZIP9 = re.compile(r"\s*(\d{7,9})\s*")
_NUMBER = re.compile(r"\s*(\d{3,9})\.0*\s*")


@cache
def _records() -> list[dict[str, Any]]:
    import zipcodes

    return list(zipcodes.list_all())  # type: ignore[no-untyped-call]


#: ZIP codes whose zone the ``zipcodes`` data gives wrong, with the source of the right one.
CORRECTIONS: dict[str, tuple[str, str]] = {
    # West Wendover, NV: Mountain time officially since 1999 (the data says America/Los_Angeles).
    # kids.kiddle.co/West_Wendover,_Nevada (infobox: UTC-7 Mountain, ZIP 89883); lasvegassun.com
    # 2011-07-02 "Nevada's tiny town in a different time zone"; NANPA's 775: "PT/MT only for W Wendover".
    "89883": ("America/Denver", "NV"),
    # Tuba City, AZ: in the Navajo Nation, which keeps daylight saving time (Mountain Daylight Time in
    # summer), unlike the rest of Arizona (the data says America/Phoenix; its neighbours Kaibeto 86053,
    # Tonalea 86044 and Cameron 86020 are America/Denver). Tuba City's infobox: UTC-7 (MST), summer
    # UTC-6 (MDT); navajo-nsn.gov: the Navajo Nation observes daylight saving time.
    "86045": ("America/Denver", "AZ"),
}
#: ZIP codes of towns that keep another zone's clock than their official one: both count. Phenix City,
#: Smiths Station, Valley and Lanett, Alabama (officially Central) keep Eastern time with Columbus and
#: West Point, Georgia (AP / Columbus Ledger-Enquirer in legacy.decaturdaily.com 2006-08-13 "zones";
#: the Huntsville Times Q&A on msgo.com; ``data/SOURCES.md``: AP-EAST-ALABAMA).
OBSERVED: dict[str, tuple[str, str]] = {
    "36867": ("America/New_York", "AL"),  # Phenix City
    "36868": ("America/New_York", "AL"),  # Phenix City
    "36869": ("America/New_York", "AL"),  # Phenix City
    "36870": ("America/New_York", "AL"),  # Phenix City (Lee County)
    "36877": ("America/New_York", "AL"),  # Smiths Station
    "36854": ("America/New_York", "AL"),  # Valley
    "36863": ("America/New_York", "AL"),  # Lanett
}


@cache
def _table() -> dict[str, tuple[str | None, str | None]]:
    real = available_timezones()
    table: dict[str, tuple[str | None, str | None]] = {}
    for record in _records():
        zone = record.get("timezone") or None
        table[record["zip_code"]] = (zone if zone in real else None, record.get("state") or None)
    table.update(CORRECTIONS)
    return table


#: A cell of three digits (or a number a spreadsheet stored as ``325.0``).
_ZIP3 = re.compile(r"\s*(\d{3})(?:\.0*)?\s*")


@cache
def _by_prefix() -> dict[str, tuple[tuple[str | None, str | None], ...]]:
    """Every distinct (zone, state) of the ZIPs of each three-digit prefix."""
    found: dict[str, set[tuple[str | None, str | None]]] = {}
    for code, place in _table().items():
        if place != (None, None):
            found.setdefault(code[:3], set()).add(place)
    return {prefix: tuple(sorted(places, key=lambda p: (p[0] or "", p[1] or ""))) for prefix, places in found.items()}


def zip_places(raw: str) -> tuple[tuple[str | None, str | None], ...]:
    """Every (time zone or None, state or None) a ZIP cell may mean: its ZIP's (:func:`zip_place`),
    and a second clock its town keeps (:data:`OBSERVED`); for a ZIP the data lacks, every place of
    the ZIPs sharing its first three digits; for three digits both the ZIP that lost two leading zeros
    and every ZIP of that prefix; () when the data knows none."""
    three = _ZIP3.fullmatch(raw)
    if three is None:
        code = _zip5(raw)
        if code is None:
            return ()
        place = _table().get(code)
        if place is None:  # a ZIP the data lacks (a new one, a PO box's): every place of its prefix
            return _by_prefix().get(code[:3], ())
        return (place, OBSERVED[code]) if code in OBSERVED else (place,)
    prefix = three.group(1)
    found = [p for p in (_table().get(prefix.zfill(5)),) if p is not None]
    found += [p for p in _by_prefix().get(prefix, ()) if p not in found]
    return tuple(found)


def zip_place(raw: str) -> tuple[str | None, str | None] | None:
    """(time zone or None, state or None) of a US ZIP code, or None when it is not one the data knows."""
    code = _zip5(raw)
    return _table().get(code) if code else None


def _zip5(raw: str) -> str | None:
    """The five-digit ZIP a cell writes (see the module docstring), or None."""
    number = _NUMBER.fullmatch(raw)
    if number is not None:
        raw = number.group(1)
    m = _ZIP.fullmatch(raw)
    if m is not None:
        return m.group(1).zfill(5)
    nine = _ZIP9.fullmatch(raw)
    if nine is not None:  # ZIP+4 as one number; 7 or 8 digits: its leading zeros dropped
        return nine.group(1).zfill(9)[:5]
    return None
