"""Phone numbers to Insight's ``tel:+E164[;ani=…][;postd=…]`` form, validated by phonenumbers.

phonenumbers parses ~27k numbers/s here, too slow for a million-row list, so plain national
formats of NANP regions take a fast path: one regex pulls the ten digits out, and a second regex
*compiled from phonenumbers' own metadata for the region* decides validity exactly as
``is_valid_number`` would. Anything the fast path does not accept goes the slow way, so the fast
path can only ever agree with phonenumbers (a test compares the two on random numbers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat

from batchqueue.errors import PhoneError

__all__ = ["Phone", "PhoneError", "PhoneParser", "tel_uri"]

_NANP_PLAIN = re.compile(
    r"\s*(?:\+?1[\s.-]?)?\(?([2-9]\d\d)\)?[\s.-]?(\d{3})[\s.-]?(\d{4})"
    r"(?:\s*(?:x|ext\.?|extension|#)\s*(\d{1,32}))?\s*",
    re.IGNORECASE,
)
#: _NANP_PLAIN without the extension: the import's fastest path (~2.5x quicker than _NANP_PLAIN).
_NANP_BARE = re.compile(r"\s*(?:\+?1[\s.-]?)?\(?([2-9]\d\d)\)?[\s.-]?(\d{3})[\s.-]?(\d{4})\s*")
_DTMF = re.compile(r"[0-9*#]{1,32}")
#: An extension as exports write it: a label (x, ext., extn, extension) before the digits, or a
#: number cell's ``.0`` after them.
_EXTENSION_LABEL = re.compile(r"(?:(?:x|ext|extn|extension)\.?\s*:?\s*)?([0-9*#]{1,32})(?:\.0+)?", re.IGNORECASE)
#: Digits and separators, starting with 2-9 (no international or national prefix to strip).
_SHORT_PLAIN = re.compile(r"\s*\(?[2-9][\d\s.()\-]*")
_EXTENSION_SPLIT = re.compile(r"\s*(?:#|x|ext\.?|extension)\s*(\d+)\s*$", re.IGNORECASE)

#: Words people put around a number in a cell: tolerated, and dropped before the number is read.
_LABEL_WORDS = (
    r"mobile|mob|cell|cellphone|cellular|celular|m[oó]vil|handy|portable|phone|ph|tel|t[eé]l[eé]phone|telephone|"
    r"tel[eé]fono|telefon|telefone|tfno|home|work|office|main|direct|landline|personal|business|private"
)
_LEADING_LABEL = re.compile(rf"^\s*(?:(?:{_LABEL_WORDS})\.?\s*[:#-]?|[mhwco]\s*[.:])\s*", re.IGNORECASE)
_TRAILING_LABEL = re.compile(
    rf"\s*(?:\(\s*(?:{_LABEL_WORDS}|[mhwco])\s*\)|[,;-]?\s+(?:{_LABEL_WORDS}))\s*$", re.IGNORECASE
)
_FAX = re.compile(r"\b(?:fax|telefax|facsimile)\b", re.IGNORECASE)
_LETTERS = re.compile(r"[^\W\d_]")
#: A number Excel wrote in scientific notation (3,46305E+10): its last digits may be gone.
_SCIENTIFIC = re.compile(r"\s*\+?(\d+)(?:[.,](\d+))?[eE]\+?(\d{1,2})\s*")
_DIGITS_ONLY = re.compile(r"[\d\s.()\-]+")
#: An extension this long may be a second number (see PhoneParser._refuse_a_second_number).
_SECOND_NUMBER_DIGITS = 10
#: A number cell written as a decimal (``6175550136.0``: pandas and some exports write a number column
#: with missing values so): the digits are the number, the ``.0`` no digit of it.
_NUMBER_CELL = re.compile(r"\s*(\+?\d{7,15})\.0+\s*")
#: Digits with a decimal part that is not ``.0`` (``6175550136.5``): no phone number, so never read
#: as an international one (its fraction would become the number's last digits).
_DECIMAL = re.compile(r"\s*\d+[.,]\d{1,3}\s*")

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "has an unknown country code",
    NumberParseException.NOT_A_NUMBER: "is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    NumberParseException.TOO_SHORT_NSN: "is too short",
    NumberParseException.TOO_LONG: "is too long",
}


class Phone(NamedTuple):
    """A normalized number plus what its cell carried besides (``tel:`` parameters or extension)."""

    e164: str
    region: str | None
    ani: str | None = None
    postd: str | None = None


def _valid_national_regex(region: str) -> re.Pattern[str] | None:
    """One regex equivalent to phonenumbers' 'number type is not UNKNOWN' test for ``region``."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code != 1 or meta.general_desc is None:
        return None
    descs = [
        meta.premium_rate,
        meta.toll_free,
        meta.shared_cost,
        meta.voip,
        meta.personal_number,
        meta.pager,
        meta.uan,
        meta.voicemail,
        meta.fixed_line,
        meta.mobile,
    ]
    types = [
        d.national_number_pattern
        for d in descs
        if d is not None and d.national_number_pattern and 10 in (d.possible_length or (10,))
    ]
    general = meta.general_desc.national_number_pattern
    if not types or not general:
        return None
    return re.compile("(?=(?:%s)$)(?:%s)$" % (general, "|".join(f"(?:{p})" for p in types)))


class PhoneParser:
    """Parse phone cells against a default region. Usage: ``PhoneParser("US").parse("(617) 555-1234")``."""

    def __init__(self, region: str) -> None:
        region = region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {region!r} (use a two-letter code such as US, CA, GB)")
        self.region = region
        self._country_code = phonenumbers.country_code_for_region(region)
        self._fast = _valid_national_regex(region)
        self.caller_id = lru_cache(maxsize=4096)(self._caller_id)

    def parse(self, text: str) -> Phone:
        """A :class:`Phone`, or :class:`PhoneError` with the reason."""
        if self._fast is not None:
            ani = postd = None
            body = text
            if text[:4] in ("tel:", "TEL:"):
                body, params = _split_tel(text[4:])
                ani, postd = params.get("ani"), params.get("postd")
            m = _NANP_PLAIN.fullmatch(body)
            if m is not None:
                a, b, c, ext = m.groups()
                if self._fast.match(a + b + c) and (postd is None or _DTMF.fullmatch(postd)):
                    if ext is not None and len(ext) >= _SECOND_NUMBER_DIGITS:
                        self._refuse_a_second_number(ext)
                    return Phone("+1" + a + b + c, self.region, ani, postd or ext)
            elif _SHORT_PLAIN.fullmatch(text) and _short_digit_count(text):
                # What phonenumbers says of these, without its ~35 µs (a test compares the two).
                raise PhoneError("has the wrong number of digits for its country")
        return self._parse_slow(text)

    @property
    def region_is_nanp(self) -> bool:
        """Whether this region's plain numbers take the fast path (country code 1)."""
        return self._fast is not None

    def plain_pattern(self) -> Callable[[str], str | None]:
        """A function giving the ten national digits of a plain NANP number of this region with
        nothing else to it (no extension, no tel: parameters), valid by the fast path's test; None
        for anything else (and always None outside NANP regions)."""
        fast = self._fast
        if fast is None:
            return lambda text: None
        plain, valid = _NANP_BARE.fullmatch, fast.match

        def digits(text: str) -> str | None:
            m = plain(text)
            if m is None:  # not a plain number (an extension, a tel: URI, anything else)
                return None
            found = "".join(m.groups())
            return found if valid(found) else None

        return digits

    def _parse_slow(self, text: str) -> Phone:
        value = text.strip()
        if not value:
            raise PhoneError("is empty")
        ani = postd = None
        from_tel = (value[:4].lower() == "tel:" and "=" in value) or value[:5].lower() == "tel:+"
        if from_tel:
            value, params = _split_tel(value[4:])
            ani, postd = params.get("ani"), params.get("postd")
        else:
            value = _without_labels(value)
            ext = _EXTENSION_SPLIT.search(value)
            if ext and any(ch.isdigit() for ch in value[: ext.start()]):
                postd, value = ext.group(1), value[: ext.start()]
            if _LETTERS.search(value):
                if sum(map(str.isdigit, value)) < 3:
                    raise PhoneError("is not a phone number")
                raise PhoneError(
                    "has letters in it (a vanity number such as 1-800-FLOWERS?): write the digits the letters stand for"
                )
        number = self._to_number(value)
        if number.extension:
            if postd is not None and postd != number.extension:  # 617-555-0100,7 x5: which one is dialled?
                raise PhoneError(f"has two extensions ({number.extension} and {postd}): keep the one to dial")
            postd = number.extension
        if postd is not None and not from_tel and len(postd) >= _SECOND_NUMBER_DIGITS:
            self._refuse_a_second_number(postd, phonenumbers.region_code_for_number(number))
        if postd is not None and not _DTMF.fullmatch(postd):
            raise PhoneError(f"has postd {postd!r}: only digits, * and # can be dialled after connect")
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        return Phone(e164, phonenumbers.region_code_for_number(number), ani, postd)

    def _refuse_a_second_number(self, extension: str, region: str | None = None) -> None:
        """PhoneError when what a cell has after its number (``6175550100;6175550101``) is a phone
        number itself: two numbers in one cell, the second never to be dialled as an extension (nor
        left off a do-not-call list). A ``tel:`` URI's ``postd=`` is what it says, and is not asked."""
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(extension, region or self.region))
        except NumberParseException:
            return
        if valid:
            raise PhoneError(
                f"holds two numbers? what follows the first ({extension}) is a phone number itself, not an "
                "extension: put each number in a cell of its own (--phone-column A,B reads several columns)"
            )

    def _to_number(self, value: str) -> phonenumbers.PhoneNumber:
        try:
            number = phonenumbers.parse(value, self.region)
        except NumberParseException as exc:
            raise PhoneError(_PARSE_ERRORS.get(exc.error_type, "is not a phone number")) from None
        if not phonenumbers.is_possible_number(number):
            raise PhoneError("has the wrong number of digits for its country")
        if not phonenumbers.is_valid_number(number):
            where = phonenumbers.region_code_for_country_code(number.country_code or 0)
            if where in ("ZZ", "001") or number.country_code == self._country_code:
                where = self.region  # a CA job's bad number is "not a valid CA number", not US
            raise PhoneError(f"is not a valid {where} number")
        return number

    def international_reading(self, text: str) -> Phone | None:
        """The number ``text``'s digits make when read as international (``447559364316`` →
        +44…, ``0044…`` → +44…), if that is a valid number; None otherwise.

        For a cell that the default region cannot read: the caller decides whether to use it and
        warns on that row.
        """
        value = text.strip()
        if not _DIGITS_ONLY.fullmatch(value) or _DECIMAL.fullmatch(value):
            return None
        digits = "".join(filter(str.isdigit, value))
        if digits.startswith("00"):
            digits = digits[2:]
        if not 7 <= len(digits) <= 15:
            return None  # no valid international number is shorter (Niue: +683 4 digits) or longer (E.164)
        try:
            number = phonenumbers.parse("+" + digits, None)
        except NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number) or not _leads_with_country_code(value, number.country_code):
            return None
        return Phone(
            phonenumbers.format_number(number, PhoneNumberFormat.E164), phonenumbers.region_code_for_number(number)
        )

    def _caller_id(self, text: str) -> str:
        """A caller id as the API's own example writes it: national digits in-region, else +E.164."""
        value = without_number_cell_decimals(text.strip())  # 6175550100.0, as the phone column reads it
        if value[:4].lower() == "tel:":
            value = value[4:]
        number = self._to_number(value)
        if phonenumbers.region_code_for_number(number) == self.region:
            return phonenumbers.national_significant_number(number)
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)

    def dtmf(self, text: str) -> str:
        """A postd value: the DTMF digits sent after the call connects. An extension is read as
        exports write it: ``204``, ``x204``, ``ext. 204``, ``Extension 204``, ``204.0`` (a number cell)."""
        value = text.strip()
        labelled = _EXTENSION_LABEL.fullmatch(value)
        if labelled is not None:
            value = labelled.group(1)
        if not _DTMF.fullmatch(value):
            raise PhoneError(f"{value!r} is not DTMF (only digits, * and #)")
        return value


def _leads_with_country_code(value: str, country_code: int | None) -> bool:
    """Whether digits written in groups begin with the country code as a group of its own, as an
    international number is written (``44 7559 364316``, ``0044 20 7946 0958``, ``00 52 55 …``);
    digits in one run always may. ``617-555-0100-1`` is a US number with something after it, not
    +61 7 5550 1001: its first group is no country code."""
    groups = re.findall(r"\d+", value)
    if groups and groups[0] == "00":
        groups = groups[1:]
    elif groups and groups[0].startswith("00"):
        groups[0] = groups[0][2:]
    return len(groups) <= 1 or groups[0] == str(country_code)


def without_number_cell_decimals(text: str) -> str:
    """``6175550136.0`` → ``6175550136``: a number cell's ``.0`` is no digit of the number (a workbook's
    number cells are read so too); any other text as it is."""
    cell = _NUMBER_CELL.fullmatch(text)
    return text if cell is None else cell.group(1)


def _short_digit_count(text: str) -> bool:
    """A NANP region's number needs 10 digits (7 for a local-only one): 2-6, 8 or 9 cannot be one."""
    n = sum(map(str.isdigit, text))
    return 3 <= n <= 6 or n in (8, 9)


def _without_labels(value: str) -> str:
    """``305.891.1888 (cell)`` → ``305.891.1888``; a fax or a number Excel destroyed is refused."""
    if _FAX.search(value):
        raise PhoneError("is labelled as a fax number (a fax machine cannot take a survey call)")
    scientific = _SCIENTIFIC.fullmatch(value)
    if scientific is not None:
        whole, fraction, exponent = scientific.group(1), scientific.group(2) or "", int(scientific.group(3))
        if len(fraction.rstrip("0")) < exponent or len(whole) != 1:
            raise PhoneError(
                "is in scientific notation: Excel has rounded the number and its last digits are lost. "
                "Format the phone column as Text in Excel (or import the .xlsx itself) and save it again"
            )
        return whole + fraction[:exponent]  # every digit survived: 1.6175551234E+10
    if value[:1].isalpha() or value[-1:] in (")",) or value[-1:].isalpha():
        value = _TRAILING_LABEL.sub("", _LEADING_LABEL.sub("", value, count=1), count=1)
    return value


def _split_tel(rest: str) -> tuple[str, dict[str, str]]:
    number, *parts = rest.split(";")
    params: dict[str, str] = {}
    for part in parts:
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in ("ani", "postd"):
            raise PhoneError(f"has an unknown tel: parameter {part!r} (only ani= and postd=)")
        params[key] = val.strip()
    return number, params


def tel_uri(e164: str, ani: str | None, postd: str | None) -> str:
    """``tel:+16175551234;ani=2125551234;postd=2`` — the form the queue endpoint documents."""
    uri = "tel:" + e164
    if ani:
        uri += ";ani=" + ani
    if postd:
        uri += ";postd=" + postd
    return uri
