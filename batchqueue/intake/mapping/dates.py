"""Date-times as people write them, to a datetime: ISO, day/month numbers, month names, patterns.

The order a value is tried in:

1. unix seconds, ISO 8601 (``2026-12-16 17:00``, ``2026/12/16``) and Excel date cells (which the
   readers render as ISO);
2. each ``--date-format`` pattern (strftime), in the order given;
3. numbers in day/month/year or month/day/year order (``16/12/2026 17:00``, ``12.03.26``). When
   both first numbers could be the month, the value is ambiguous: ``--dayfirst`` (or a pattern)
   decides, otherwise it is refused with a reason naming both. A wrong guess calls people on the
   wrong day, so there is no default order;
4. month names in the languages of the contact lists batchqueue sees (``Dec 4, 2026``,
   ``4 déc. 2026``, ``4. Dezember 2026 14:30``, ``4 de diciembre de 2026``), read by
   python-dateutil with the month names babel's CLDR data gives for those languages. A year must
   be written: ``Dec 4`` alone is refused.

Usage::

    reader = DateReader(formats=("%d.%m.%Y %H:%M",), dayfirst=False)
    reader.read("16/12/2026 17:00")     # datetime(2026, 12, 16, 17, 0)
    reader.read("12/03/2026")           # ValueError naming --dayfirst and --date-format
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dateutil.parser import parserinfo

#: Languages whose month and weekday names are understood.
NAME_LOCALES = ("en", "es", "fr", "de", "it", "pt", "nl")

_NUMERIC = re.compile(
    r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})"
    r"(?:(?:\s+|T|,\s*)(\d{1,2})(?:[:h](\d{2}))?(?::(\d{2}))?(?:\.\d+)?\s*([AaPp])?\.?(?:[Mm]\.?)?)?"
)
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
_LETTER = re.compile(r"[^\W\d_]")


def check_pattern(pattern: str) -> str:
    """A ``--date-format`` pattern, checked to round-trip a date; ValueError says why not."""
    if "%" not in pattern:
        raise ValueError(f"--date-format {pattern!r} has no strftime directive (such as %d/%m/%Y %H:%M)")
    sample = dt.datetime(2026, 12, 31, 23, 59)
    try:
        dt.datetime.strptime(sample.strftime(pattern), pattern)
    except ValueError as exc:
        raise ValueError(f"--date-format {pattern!r} cannot be used ({exc})") from None
    return pattern


@cache
def _dateutil_info() -> parserinfo:
    from babel import Locale
    from dateutil import parser

    months: list[list[str]] = [[] for _ in range(12)]
    weekdays: list[list[str]] = [[] for _ in range(7)]
    for code in NAME_LOCALES:
        locale = Locale.parse(code)
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in locale.months[context][width].items():
                    months[number - 1].append(name.rstrip("."))
                for number, name in locale.days[context][width].items():
                    weekdays[number].append(name.rstrip("."))

    names = type(
        "Names",
        (parser.parserinfo,),
        {
            "MONTHS": [tuple(dict.fromkeys(m)) for m in months],
            "WEEKDAYS": [tuple(dict.fromkeys(w)) for w in weekdays],
            "JUMP": [*parser.parserinfo.JUMP, "de", "del", "du", "le", "el", "um", "à", "às", "alle", "om"],
        },
    )
    info: parserinfo = names()
    return info


class DateReader:
    """Text to a datetime (naive unless the text carries an offset); ValueError says what was tried."""

    def __init__(self, formats: Sequence[str] = (), dayfirst: bool = False, monthfirst: bool = False) -> None:
        self.formats = tuple(formats)
        # The order numbers are read in when no pattern matched: --dayfirst or --monthfirst, else the
        # order the patterns use (a file given '%m/%d/%Y' is month first throughout), else decided
        # per value (the import decides it per column first: see intake/mapping/survey.py).
        orders = {_order_of(p) for p in self.formats} - {None}
        if dayfirst and monthfirst:
            raise ValueError("--dayfirst and --monthfirst contradict each other: say one")
        if dayfirst and "month" in orders:
            raise ValueError("--dayfirst contradicts a --date-format that puts the month first")
        if monthfirst and "day" in orders:
            raise ValueError("--monthfirst contradicts a --date-format that puts the day first")
        if len(orders) > 1:
            raise ValueError("the --date-format patterns disagree on whether the day or the month comes first")
        self.dayfirst = dayfirst or orders == {"day"}
        self.monthfirst = monthfirst or orders == {"month"}

    @property
    def order(self) -> str | None:
        """ "day" or "month" when the order of day/month numbers is decided, else None (per value)."""
        return "day" if self.dayfirst else "month" if self.monthfirst else None

    def read(self, value: str) -> dt.datetime:
        try:
            return dt.datetime.fromisoformat(value.replace("/", "-") if _iso_slashes(value) else value)
        except ValueError:
            pass
        for pattern in self.formats:
            try:
                return dt.datetime.strptime(value, pattern)
            except ValueError:
                continue
        numeric = _NUMERIC.fullmatch(value)
        if numeric is not None:
            return self._numeric(value, numeric)
        if _LETTER.search(value):
            return self._named(value)
        raise ValueError(self._unreadable(value))

    def _tried(self) -> str:
        tried = ["ISO 8601 such as 2026-12-01 09:00", "unix seconds"]
        tried += [f"--date-format {p!r}" for p in self.formats]
        if self.dayfirst or self.monthfirst:
            tried.append("day/month/year numbers" if self.dayfirst else "month/day/year numbers")
        else:
            tried.append("day/month or month/day numbers")
        tried.append("month names such as Dec 4, 2026")
        return ", ".join(tried)

    def _unreadable(self, value: str) -> str:
        return f"{value!r} is not a date-time batchqueue can read (tried {self._tried()}; see --date-format)"

    def _numeric(self, value: str, m: re.Match[str]) -> dt.datetime:
        first, second = int(m.group(1)), int(m.group(3))
        year = int(m.group(4))
        if len(m.group(4)) == 2:
            year += 2000 if year < 69 else 1900
        if self.dayfirst:
            day, month = first, second
        elif self.monthfirst:
            day, month = second, first
        elif first > 12 >= second:
            day, month = first, second
        elif second > 12 >= first:
            day, month = second, first
        elif first == second:
            day = month = first
        elif first <= 12 and second <= 12:
            raise ValueError(
                f"{value!r} is ambiguous: day {first} of month {second}, or month {first} day {second}? "
                f"Say --dayfirst for day/month, or --monthfirst (or --date-format {_month_first_pattern(m)!r}) "
                "for month/day"
            )
        else:
            raise ValueError(self._unreadable(value))
        hour = int(m.group(5) or 0)
        minute, second_ = int(m.group(6) or 0), int(m.group(7) or 0)
        meridiem = (m.group(8) or "").lower()
        if meridiem:
            if not 1 <= hour <= 12:
                raise ValueError(f"{value!r}: hour {hour} with AM/PM")
            hour = hour % 12 + (12 if meridiem == "p" else 0)
        elif m.group(5) is not None and m.group(6) is None:
            raise ValueError(self._unreadable(value))  # "16/12/2026 17": an hour without minutes
        try:
            return dt.datetime(year, month, day, hour, minute, second_)
        except ValueError as exc:
            order = "day/month" if day == first and not self.monthfirst else "month/day"
            raise ValueError(f"{value!r} is not a real date read as {order}/year ({exc})") from None

    def _named(self, value: str) -> dt.datetime:
        from dateutil import parser

        if not any(ch.isdigit() for ch in value):
            raise ValueError(self._unreadable(value))
        if _YEAR.search(value) is None:
            raise ValueError(f"{value!r} has no year (write it, as in Dec 4, 2026)")
        info = _dateutil_info()
        try:
            # Two different defaults: a field the text does not give shows up as a difference.
            one: dt.datetime = parser.parse(value, parserinfo=info, default=dt.datetime(2000, 1, 1))
            two: dt.datetime = parser.parse(value, parserinfo=info, default=dt.datetime(2001, 2, 2))
        except (ValueError, OverflowError):
            raise ValueError(self._unreadable(value)) from None
        if one.date() != two.date():
            raise ValueError(f"{value!r} does not give a whole date (day, month and year)")
        return one


def numeric_order(value: str) -> str | None:
    """The orders a value of day/month/year numbers allows: ``"day"`` (only day/month reads it:
    16/12/2026), ``"month"`` (12/16/2026), ``"either"`` (12/03/2026); None for any other value (and
    for 03/03/2026, which reads the same both ways)."""
    m = _NUMERIC.fullmatch(value.strip())
    if m is None:
        return None
    first, second = int(m.group(1)), int(m.group(3))
    if 12 < first <= 31 and second <= 12:
        return "day"
    if 12 < second <= 31 and first <= 12:
        return "month"
    if first <= 12 and second <= 12 and first != second:
        return "either"
    return None


def _order_of(pattern: str) -> str | None:
    """ "day" or "month": which of the two a pattern writes first (None if not both)."""
    day, month = pattern.find("%d"), pattern.find("%m")
    if day < 0 or month < 0:
        return None
    return "day" if day < month else "month"


def _month_first_pattern(m: re.Match[str]) -> str:
    """The strftime pattern that reads this numeric value month first."""
    sep = m.group(2)
    pattern = f"%m{sep}%d{sep}" + ("%Y" if len(m.group(4)) == 4 else "%y")
    if m.group(5) is not None:
        pattern += " %I" if m.group(8) else " %H"
        if m.group(6) is not None:
            pattern += ":%M"
        if m.group(7) is not None:
            pattern += ":%S"
        if m.group(8):
            pattern += " %p"
    return pattern


def _iso_slashes(value: str) -> bool:
    """2026/12/01 is unambiguous (year first), unlike 12/01/2026."""
    return len(value) >= 10 and value[4] == "/" and value[7] == "/" and value[:4].isdigit()
