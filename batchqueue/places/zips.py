"""US ZIP codes to their time zone and state, from the ``zipcodes`` package's embedded data.

The data ships inside the package (no download at run time). A ZIP is read as people and
spreadsheets write it (USPS Publication 28: five digits, ZIP+4 adds a hyphen and four more):
``02134``, ``02134-1234``, ``02134 1234``, ``021341234`` (ZIP+4 without its hyphen), ``2134`` or
``21341234`` (a numeric column dropped the leading zero), ``2134.0`` (a column saved as numbers).
A ZIP the data does not know, or whose zone is missing or not a real IANA name, gives nothing, and
the contact's zone then comes from its number.

Usage::

    zip_place("02134-1234")    # ("America/New_York", "MA")

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
