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
    "89883": ("America/Denver", "NV")
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
    or for three digits both the ZIP that lost two leading zeros and every ZIP of that prefix; ()
    when the data knows none."""
    three = _ZIP3.fullmatch(raw)
    if three is None:
        place = zip_place(raw)
        return (place,) if place is not None else ()
    prefix = three.group(1)
    found = [p for p in (_table().get(prefix.zfill(5)),) if p is not None]
    found += [p for p in _by_prefix().get(prefix, ()) if p not in found]
    return tuple(found)


def zip_place(raw: str) -> tuple[str | None, str | None] | None:
    """(time zone or None, state or None) of a US ZIP code, or None when it is not one the data knows."""
    number = _NUMBER.fullmatch(raw)
    if number is not None:
        raw = number.group(1)
    m = _ZIP.fullmatch(raw)
    if m is not None:
        return _table().get(m.group(1).zfill(5))
    nine = _ZIP9.fullmatch(raw)
    if nine is not None:  # ZIP+4 as one number; 7 or 8 digits: its leading zeros dropped
        return _table().get(nine.group(1).zfill(9)[:5])
    return None
