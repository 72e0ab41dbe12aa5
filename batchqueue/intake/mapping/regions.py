"""A row's country, from whatever a spreadsheet holds: ``MX``, ``MEX``, ``Mexico``, ``México``,
``+52`` or ``52`` all mean the region phonenumbers calls ``MX``.

Names come from the CLDR data babel ships (the English name and the country's name in the major
European languages), ISO codes from pycountry, dialing codes from phonenumbers; nothing is
downloaded. Unknown text is None (the caller says which row and column).

The same spellings are taken for a whole file or list (``--region Mexico``): :func:`region_named`.

Usage::

    region_of("United Kingdom")   # "GB"
    region_of("+44")              # "GB"
    region_named("Mexico")        # "MX"; ValueError for what no country column would take
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import phonenumbers

#: Locales whose country names are understood (a column may well be in the list's language).
_NAME_LOCALES = ("en", "es", "fr", "de", "it", "pt", "nl", "pl", "sv", "da", "nb", "fi")
#: Everyday names CLDR does not list as a country's name.
_ALIASES = {
    "uk": "GB",
    "greatbritain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northernireland": "GB",
    "usa": "US",
    "us": "US",
    "america": "US",
    "unitedstatesofamerica": "US",
    "uae": "AE",
    "russianfederation": "RU",
    "southkorea": "KR",
    "northkorea": "KP",
    "holland": "NL",
}
#: Said of a country that is none; after the text given.
UNKNOWN_COUNTRY = (
    "is not a country batchqueue knows (use a two-letter code such as MX, a name such as Mexico, "
    "or a dialing code such as +52)"
)
_DIALING = re.compile(r"\+?\s*(\d{1,3})")


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if ch.isalpha())


@cache
def _names() -> dict[str, str]:
    import pycountry
    from babel import Locale

    names: dict[str, str] = {}
    regions = set(phonenumbers.SUPPORTED_REGIONS)
    for locale in _NAME_LOCALES:
        for code, name in Locale.parse(locale).territories.items():
            if code in regions:
                names.setdefault(_key(name), code)
    for country in pycountry.countries:
        code = country.alpha_2
        if code not in regions:
            continue
        names.setdefault(country.alpha_3.casefold(), code)
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                names.setdefault(_key(value), code)
    names.update(_ALIASES)
    return names


@cache
def region_of(value: str) -> str | None:
    """The phonenumbers region meant by ``value``, or None."""
    text = value.strip()
    if not text:
        return None
    if len(text) == 2 and text.isalpha() and text.upper() in phonenumbers.SUPPORTED_REGIONS:
        return text.upper()
    dialing = _DIALING.fullmatch(text)
    if dialing is not None:
        region = phonenumbers.region_code_for_country_code(int(dialing.group(1)))
        return region if region not in ("ZZ", "001") else None
    return _names().get(_key(text)) or _names().get(text.casefold())


def region_named(value: str) -> str:
    """The region ``value`` names (``--region``, a mapping file's ``region``), spelled as a country
    column may spell it; ValueError saying why when it names none."""
    region = region_of(value)
    if region is None:
        raise ValueError(f"unknown region {value.strip()!r}: it {UNKNOWN_COUNTRY}")
    return region
