"""Date-times from cells or options to unix seconds, read in a time zone.

How a zone is named (IANA, ``EST``, ``UTC+05:30``) is :mod:`batchqueue.places.zone_names`'s.

Usage::

    canonical_zone("pst")                     # "America/Los_Angeles"
    TimeParser("America/New_York").parse("2026-12-01 09:00")    # 1796133600
"""

from __future__ import annotations

import re
from functools import lru_cache

from batchqueue.intake.mapping.dates import DateReader
from batchqueue.places.zone_names import canonical_zone, zone

__all__ = ["TimeParser", "canonical_zone", "zone"]

_UNIX = re.compile(r"\d{9,11}(?:\.0+)?")


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
