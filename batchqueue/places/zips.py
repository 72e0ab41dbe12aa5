"""US ZIP codes to their time zone and state, from the ``zipcodes`` package's embedded data.

The data ships inside the package (no download at run time). A ZIP is read as people and
spreadsheets write it: ``02134``, ``02134-1234``, or ``2134`` (Excel dropped the leading zero).
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

_ZIP = re.compile(r"\s*(\d{3,5})(?:\s*-\s*\d{4})?\s*")


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
    m = _ZIP.fullmatch(raw)
    if m is None:
        return None
    return _table().get(m.group(1).zfill(5))
