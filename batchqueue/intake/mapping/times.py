"""Date-times from cells or options to unix seconds, read in a time zone.

A zone is named as a person writes it in a spreadsheet: an IANA name (``America/New_York``, in any
letter case), an abbreviation where it means one place (``EST`` → ``America/New_York``), or a fixed
offset (``UTC+05:30``, ``GMT-3``). An abbreviation that means several places (``CST``: Central US,
China or Cuba; ``IST``: India, Ireland or Israel) is refused with the choices, never guessed.

Usage::

    canonical_zone("pst")                     # "America/Los_Angeles"
    TimeParser("America/New_York").parse("2026-12-01 09:00")    # 1796133600
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from batchqueue.intake.mapping.dates import DateReader

_UNIX = re.compile(r"\d{9,11}(?:\.0+)?")
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)

#: Abbreviations that name one zone. Written for a contact's local time, so EST means New York's
#: clock (EDT in summer), not the fixed UTC-5 the tz database calls EST.
ABBREVIATIONS = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "ET": "America/New_York",
    "EASTERN": "America/New_York",
    "CENTRAL": "America/Chicago",
    "CT": "America/Chicago",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "PT": "America/Los_Angeles",
    "PACIFIC": "America/Los_Angeles",
    "MDT": "America/Denver",
    "MOUNTAIN": "America/Denver",
    "AKST": "America/Anchorage",
    "AKDT": "America/Anchorage",
    "ALASKA": "America/Anchorage",
    "HST": "Pacific/Honolulu",
    "HAWAII": "Pacific/Honolulu",
    "NST": "America/St_Johns",
    "NDT": "America/St_Johns",
    "AST": "America/Halifax",
    "ADT": "America/Halifax",
    "GMT": "UTC",
    "UTC": "UTC",
    "Z": "UTC",
    "WET": "Europe/Lisbon",
    "WEST": "Europe/Lisbon",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
    "EET": "Europe/Athens",
    "EEST": "Europe/Athens",
    "MSK": "Europe/Moscow",
    "JST": "Asia/Tokyo",
    "KST": "Asia/Seoul",
    "HKT": "Asia/Hong_Kong",
    "SGT": "Asia/Singapore",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
    "ACST": "Australia/Adelaide",
    "ACDT": "Australia/Adelaide",
    "AWST": "Australia/Perth",
    "NZST": "Pacific/Auckland",
    "NZDT": "Pacific/Auckland",
}
#: Abbreviations that name several places: refused, with the choices.
AMBIGUOUS = {
    "CST": "America/Chicago, Asia/Shanghai or America/Havana",
    "CDT": "America/Chicago or America/Havana",
    "MST": "America/Denver or America/Phoenix (no daylight saving)",
    "IST": "Asia/Kolkata, Europe/Dublin or Asia/Jerusalem",
    "BST": "Europe/London or Asia/Dhaka",
}


@cache
def _iana_by_fold() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


@cache
def canonical_zone(text: str) -> str:
    """The zone ``text`` names, as batchqueue stores it; ValueError says why it cannot be read."""
    value = text.strip()
    if not value:
        raise ValueError("is empty")
    upper = value.upper()
    if upper in ABBREVIATIONS:
        return ABBREVIATIONS[upper]
    if upper in AMBIGUOUS:
        raise ValueError(f"{value!r} is ambiguous ({AMBIGUOUS[upper]}); write the IANA name")
    offset = _OFFSET.fullmatch(value)
    if offset is not None:
        sign, hours, minutes = offset.group(1), int(offset.group(2)), int(offset.group(3) or 0)
        if hours > 14 or minutes >= 60:
            raise ValueError(f"{value!r} is not a UTC offset")
        return f"UTC{sign}{hours:02d}:{minutes:02d}"
    found = _iana_by_fold().get(value.replace(" ", "_").casefold())
    if found is None:
        raise ValueError(
            f"{value!r} is not a time zone batchqueue knows "
            "(use an IANA name such as America/New_York, an offset such as UTC-05:00, or EST/PST)"
        )
    return found


def zone(name: str) -> dt.tzinfo:
    """The time zone called ``name`` (see :func:`canonical_zone`), or ValueError."""
    try:
        canonical = canonical_zone(name)
    except ValueError as exc:
        raise ValueError(f"unknown time zone: {exc}") from None
    return _tzinfo(canonical)


@cache
def _tzinfo(canonical: str) -> dt.tzinfo:
    if canonical == "UTC":
        return dt.UTC
    if canonical.startswith("UTC") and len(canonical) == 9:
        sign = -1 if canonical[3] == "-" else 1
        return dt.timezone(sign * dt.timedelta(hours=int(canonical[4:6]), minutes=int(canonical[7:9])), canonical)
    try:
        return ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {canonical!r}") from None


class TimeParser:
    """Parse a date-time cell to unix seconds; a value without an offset is read in ``tz_name``.

    What text is understood is :class:`~batchqueue.intake.mapping.dates.DateReader`'s; this adds
    unix seconds and the zone.
    """

    def __init__(self, tz_name: str, dates: DateReader | None = None) -> None:
        self.tz = zone(tz_name)
        self.dates = dates or DateReader()
        self.parse = lru_cache(maxsize=8192)(self._parse)

    def _parse(self, text: str) -> int:
        value = text.strip()
        if _UNIX.fullmatch(value):
            return int(float(value))
        when = self.dates.read(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        return int(when.timestamp())
