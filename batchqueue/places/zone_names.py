"""Time zones named as people write them, to the zone batchqueue stores and its ``tzinfo``.

A zone is named as a person writes it in a spreadsheet: an IANA name (``America/New_York``, in any
letter case), an abbreviation where it means one place (``EST`` → ``America/New_York``), or a fixed
offset (``UTC+05:30``, ``GMT-3``, ``-05:00``). An abbreviation that means several places (``CST``:
Central US, China or Cuba; ``IST``: India, Ireland or Israel) is refused with the choices, never
guessed, where the zone is an option of the whole job. A contact's own zone cell in a North American
list is read by :func:`contact_zones`, where ``CST`` is Central US time and ``MST`` both Denver's and
Phoenix's clock (a window must suit either).

Usage::

    canonical_zone("pst")          # "America/Los_Angeles"
    contact_zones("CST")           # ("America/Chicago",)
    zone("America/New_York")       # a tzinfo
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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


#: Dashes a spreadsheet or a word processor writes for a minus sign (U+2212 MINUS SIGN, hyphens, en dash).
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d", "-"))
#: The tz database's areas whose zones are named for a place (not ``Etc/``, nor ``US/``-style links).
_AREAS = frozenset({"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"})


@cache
def _iana_by_fold() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


@cache
def canonical_zone(text: str) -> str:
    """The zone ``text`` names, as batchqueue stores it; ValueError says why it cannot be read."""
    value = text.strip().translate(_DASHES)
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
        raise ValueError(_unknown(value))
    return found


def _unknown(value: str) -> str:
    shown = value if len(value) <= 40 else value[:40] + "…"  # a cell may be long: the message is not
    return (
        f"{shown!r} is not a time zone batchqueue knows "
        "(use an IANA name such as America/New_York, an offset such as UTC-05:00, or EST/PST)"
    )


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


#: A contact's zone cell in a North American list: what the US abbreviations that
#: :data:`AMBIGUOUS` refuses job-wide mean there. MST is written for Arizona (no daylight saving) as
#: often as for Denver, so both clocks count and the window suits either.
NORTH_AMERICAN = {
    "CST": ("America/Chicago",),
    "CDT": ("America/Chicago",),
    "MST": ("America/Denver", "America/Phoenix"),
    "MT": ("America/Denver", "America/Phoenix"),
    "MOUNTAIN": ("America/Denver", "America/Phoenix"),
    "AKT": ("America/Anchorage",),
    "HT": ("Pacific/Honolulu",),
    "HAST": ("Pacific/Honolulu",),
    "HDT": ("America/Adak",),
    "HAWAII-ALEUTIAN": ("America/Adak",),
    # Atlantic Standard Time is Puerto Rico's and the Virgin Islands' clock all year (tz database:
    # America/Puerto_Rico "AST", no daylight saving) as well as the Maritimes' in winter.
    "AST": ("America/Halifax", "America/Puerto_Rico"),
    "ATLANTIC": ("America/Halifax", "America/Puerto_Rico"),
    "NEWFOUNDLAND": ("America/St_Johns",),
    "ARIZONA": ("America/Phoenix",),
    "ALASKAN": ("America/Anchorage",),
    "HAWAIIAN": ("Pacific/Honolulu",),
    # The US territories' own zones (tz database: Pacific/Guam "ChST", Pacific/Pago_Pago "SST").
    "CHST": ("Pacific/Guam",),
    "CHAMORRO": ("Pacific/Guam",),
    "SST": ("Pacific/Pago_Pago",),
    "SAMOA": ("Pacific/Pago_Pago",),
}
#: An offset in hours as dialers write it (VICIdial's ``gmt_offset_now``: ``-5.00``, ``-3.50``, ``5.75``).
_DECIMAL_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})\.(\d{1,2})", re.IGNORECASE)
#: Its fraction to minutes: a decimal fraction of an hour, or minutes written after a dot (``5.30``).
_DECIMAL_MINUTES = {"0": 0, "00": 0, "5": 30, "50": 30, "30": 30, "75": 45, "45": 45}
#: The longest cell read as a zone (Windows' longest names are about 40 characters).
_LONGEST_CELL = 80
_PARENTHESES = re.compile(r"\([^)]*\)")
_FILLER = re.compile(r"\b(?:standard|daylight|saving|savings|summer|time|zone|us)\b", re.IGNORECASE)


@cache
def _windows_zones() -> dict[str, str]:
    """Windows' zone names (as Dynamics and Outlook export them) to IANA, from CLDR's windowsZones
    mapping as babel ships it: ``Central Standard Time (Mexico)`` is Mexico City, not US Central."""
    from babel.core import get_global

    return {str(name).casefold(): str(iana) for name, iana in get_global("windows_zone_mapping").items()}


@cache
def _cities() -> dict[str, str]:
    """A zone's place name as a person writes it (``los angeles``) to the zone, where it names one."""
    found: dict[str, set[str]] = {}
    for name in available_timezones():
        parts = name.split("/")
        if len(parts) > 1 and parts[0] in _AREAS:
            found.setdefault(parts[-1].replace("_", " ").casefold(), set()).add(name)
    # America/Indianapolis and America/Indiana/Indianapolis are one place (a link): the canonical one.
    return {
        city: min(zones, key=lambda z: (-z.count("/"), z))
        for city, zones in found.items()
        if len({z.split("/")[0] for z in zones}) == 1
    }


@lru_cache(maxsize=4096)  # bounded: every distinct cell of a file may be asked
def contact_zones(text: str) -> tuple[str, ...]:
    """The zone(s) a contact's own time-zone cell names, read as North American lists write them
    (``CST``, ``CST/CDT``, ``Central``, ``Eastern Time``, ``Pacific Time (US & Canada)``, ``EDT``,
    ``UTC-5``, ``-05:00``, ``America/Chicago``, ``US Central``, a Windows name such as ``Alaskan
    Standard Time``, a zone's city such as ``Los Angeles``; an offset is a fixed zone, first, then each North
    American daylight-saving zone whose winter or summer clock it is); ValueError
    says why a cell cannot be read."""
    value = " ".join(text.translate(_DASHES).split())
    if len(value) > _LONGEST_CELL:
        raise ValueError(_unknown(value))  # no zone's name is that long; a hostile cell is not looked up
    upper = value.upper()
    if upper in NORTH_AMERICAN:
        return NORTH_AMERICAN[upper]
    decimal = _DECIMAL_OFFSET.fullmatch(value)
    if decimal is not None and decimal.group(3) in _DECIMAL_MINUTES:  # "-5.00", "-3.50": a dialer's GMT offset
        value = f"UTC{decimal.group(1)}{int(decimal.group(2)):02d}:{_DECIMAL_MINUTES[decimal.group(3)]:02d}"
    try:
        one = canonical_zone(value)
    except ValueError:
        if not value:
            raise
    else:
        return (one, *_daylight_clocks_at(one))
    dotted = upper.replace(".", "").replace(" ", "")
    if dotted != upper and dotted.isalpha() and (dotted in NORTH_AMERICAN or dotted in ABBREVIATIONS):
        return contact_zones(dotted)  # "E.S.T.", "C. S. T."
    named = _named_in_words(value)
    if named:  # "(GMT-07:00) Mountain Standard Time (America/Phoenix)": the zone's own name says which
        return named
    windows = _windows_zones().get(value.casefold())
    if windows is not None and "(" in value:
        return (windows,)  # "Central Standard Time (Mexico)": the parentheses name the place
    try:
        read = _read_words(value)
    except ValueError:
        if windows is None:
            raise ValueError(_unknown(value)) from None
        return (windows,)
    # "Mountain Standard Time": Windows means Denver, a person may mean Phoenix too; both count.
    return tuple(sorted({*read, windows})) if windows else read


#: The North American zones that keep daylight saving time: an offset a contact's cell gives may be
#: one of their clocks in winter or in summer.
_DAYLIGHT_SAVING = (
    "America/St_Johns", "America/Halifax", "America/New_York", "America/Chicago", "America/Denver",
    "America/Los_Angeles", "America/Anchorage", "America/Adak",
)  # fmt: skip
_FIXED = re.compile(r"UTC[+-]\d\d:\d\d")


@cache
def _daylight_clocks_at(name: str) -> tuple[str, ...]:
    """The daylight-saving zones of North America whose standard or daylight offset is the fixed
    offset ``name`` (``UTC-06:00``: Chicago in winter, Denver in summer), sorted; () for another name.

    A contact's ``UTC-6`` is written as often for Central time all year (its standard offset) as for
    the clock of the day the list was made, so each such zone counts as well: the window suits all."""
    if not _FIXED.fullmatch(name):
        return ()
    offset = _tzinfo(name).utcoffset(None)
    found = []
    for candidate in _DAYLIGHT_SAVING:
        tz = _tzinfo(candidate)
        days = (dt.datetime(2026, 1, 15, 12, tzinfo=tz), dt.datetime(2026, 7, 15, 12, tzinfo=tz))
        if any(day.utcoffset() == offset for day in days):
            found.append(candidate)
    return tuple(sorted(found))


#: A tz database name inside other words: ``Area/Place`` or ``Area/Region/Place``.
_TZ_NAME = re.compile(r"[A-Za-z]+(?:/[A-Za-z0-9_+-]+){1,2}")


def _named_in_words(value: str) -> tuple[str, ...]:
    """The tz database names a cell gives among other words, as Salesforce's zone labels
    (``(GMT-05:00) Eastern Standard Time (America/New_York)``) and other exports
    (``America/Chicago (CST)``) write them; () when none."""
    found: set[str] = set()
    for name in _TZ_NAME.findall(value):
        try:
            found.add(canonical_zone(name))
        except ValueError:
            continue
    return tuple(sorted(found))


def _read_words(value: str) -> tuple[str, ...]:
    """A cell that is not one zone's name: ``CST/CDT`` (each part), ``Central Standard Time``
    (without its filler words) or a zone's city (``los angeles``)."""
    if "/" in value:
        parts = [p for p in value.split("/") if p.strip()]
        if not 2 <= len(parts) <= 3:
            raise ValueError(_unknown(value))
        return tuple(sorted({z for part in parts for z in contact_zones(part)}))
    words = " ".join(_FILLER.sub(" ", _PARENTHESES.sub(" ", value)).split())
    if words and words != value:
        return contact_zones(words)  # "Central Standard Time" → "Central"
    city = _cities().get(value.replace("_", " ").casefold())
    if city is None:
        raise ValueError(_unknown(value))
    return (city,)
