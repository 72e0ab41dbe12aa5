"""Date-times from cells or options to unix seconds, in the job's time zone."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UNIX = re.compile(r"\d{9,11}(?:\.0+)?")


def zone(name: str) -> dt.tzinfo:
    """The time zone called ``name`` (IANA, e.g. ``America/New_York``), or ValueError."""
    if name.upper() == "UTC":
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as America/New_York)") from None


class TimeParser:
    """Parse ISO 8601 text, Excel date cells (rendered as ISO) and unix seconds.

    Usage: ``TimeParser("America/New_York").parse("2026-12-01 09:00")`` → ``1796133600``.
    Values without an offset are read in the parser's zone. Day/month orders such as ``12/01/2026``
    are refused: they are ambiguous, and a wrong guess calls people on the wrong day.
    """

    def __init__(self, tz_name: str) -> None:
        self.tz = zone(tz_name)
        self.parse = lru_cache(maxsize=8192)(self._parse)

    def _parse(self, text: str) -> int:
        value = text.strip()
        if _UNIX.fullmatch(value):
            return int(float(value))
        try:
            when = dt.datetime.fromisoformat(value.replace("/", "-") if _iso_slashes(value) else value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date-time batchqueue can read "
                "(use ISO 8601 such as 2026-12-01 09:00, or unix seconds)"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        return int(when.timestamp())


def _iso_slashes(value: str) -> bool:
    """2026/12/01 is unambiguous (year first), unlike 12/01/2026."""
    return len(value) >= 10 and value[4] == "/" and value[7] == "/" and value[:4].isdigit()
