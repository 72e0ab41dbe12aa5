"""Periods as people write them on the command line: ``7d``, ``36h``, ``2w``, ``90m`` (or ``0``/``off``,
where the option allows it); and a count per period: ``3/7d``."""

from __future__ import annotations

import re

from batchqueue.errors import UsageError

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: A period option turned off (``--recontact-after 0``, or ``off``).
OFF = 0
_PERIOD = re.compile(r"\s*(\d{1,4})\s*([mhdw])\s*", re.IGNORECASE)
_ZERO = re.compile(r"\s*(0+\s*[mhdw]?|off)\s*", re.IGNORECASE)


def parse_period(text: str, option: str) -> int:
    """``text`` as seconds, or :class:`UsageError` naming ``option``."""
    m = _PERIOD.fullmatch(text or "")
    if m is None or int(m.group(1)) == 0:
        raise UsageError(f"{option} {text!r}: expected a period such as 7d, 36h, 2w or 90m")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def parse_period_or_off(text: str, option: str) -> int:
    """``text`` as seconds, or :data:`OFF` for ``0`` or ``off`` (a rule on by default, turned off)."""
    if _ZERO.fullmatch(text or ""):
        return OFF
    return parse_period(text, option)


def period_text(seconds: int) -> str:
    """A period as people write it (the largest whole unit)."""
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def cap_period(seconds: int) -> str:
    """A cap's period as laws write it: in hours up to two days (``24h``, ``8h``), else :func:`period_text`."""
    if seconds % 3600 == 0 and seconds <= 2 * 86400:
        return f"{seconds // 3600}h"
    return period_text(seconds)


def parse_count_per_period(text: str, option: str) -> tuple[int, int]:
    """``3/7d`` as (3, seconds), or :class:`UsageError` naming ``option``."""
    count, sep, period = (text or "").partition("/")
    if not sep or not count.strip().isdigit() or int(count) < 1:
        raise UsageError(f"{option} {text!r}: expected a count per period such as 3/7d or 1/24h")
    return int(count), parse_period(period, option)
