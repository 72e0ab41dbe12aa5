"""Phone normalization, and proof that the fast path agrees with phonenumbers itself."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchqueue.intake.mapping.phones import PhoneError, PhoneParser, tel_uri

US = PhoneParser("US")


@pytest.mark.parametrize(
    ("text", "e164", "ani", "postd"),
    [
        ("(617) 555-1234", "+16175551234", None, None),
        ("617.555.1234", "+16175551234", None, None),
        ("+1 617 555 1234", "+16175551234", None, None),
        ("6175551234", "+16175551234", None, None),
        ("1-617-555-1234", "+16175551234", None, None),
        ("tel:+16175551234;ani=2125551234;postd=2", "+16175551234", "2125551234", "2"),
        ("tel:16175551234;ani=2125551234", "+16175551234", "2125551234", None),
        ("617-555-1234 x123", "+16175551234", None, "123"),
        ("617 555 1234 ext. 45", "+16175551234", None, "45"),
        ("(617) 555-1234 extension 7", "+16175551234", None, "7"),
        ("+44 20 7946 0958", "+442079460958", None, None),
        ("+1 416 555 0199", "+14165550199", None, None),
        ("  617-555-1234  ", "+16175551234", None, None),
    ],
)
def test_formats_normalize(text: str, e164: str, ani: str | None, postd: str | None) -> None:
    phone = US.parse(text)
    assert (phone.e164, phone.ani, phone.postd) == (e164, ani, postd)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("555-0100", "not a valid US number"),
        ("12345", "wrong number of digits"),
        ("hello", "not a phone number"),
        ("(017) 555-1234", "not a valid US number"),
        ("+999 1234 5678", "unknown country code"),
        ("tel:+16175551234;foo=1", "unknown tel: parameter"),
        ("tel:+16175551234;postd=12a", "only digits"),
        # Two extensions: one of them was dropped without a word (the digits 7, 9, 534 never dialled).
        ("617-555-1234,7 x5", r"two extensions \(7 and 5\)"),
        ("6175551234;9#4", "two extensions"),
        ("+49 30 1235#534 ext 69", "two extensions"),
        # Two numbers: the second was dialled as the first's extension (dnc import listed only the first).
        ("6175551234;6175551235", "two numbers"),
    ],
)
def test_invalid_numbers_say_why(text: str, reason: str) -> None:
    with pytest.raises(PhoneError, match=reason):
        US.parse(text)


def test_caller_id_is_written_as_the_seed_writes_it() -> None:
    assert US.caller_id("(212) 555-1234") == "2125551234"
    assert US.caller_id("+1 212 555 1234") == "2125551234"
    assert US.caller_id("+44 20 7946 0958") == "+442079460958"
    assert PhoneParser("GB").caller_id("020 7946 0958") == "2079460958"
    assert US.caller_id("2125551234.0") == "2125551234"  # a number column pandas wrote, as the phone column reads it


def test_tel_uri() -> None:
    assert tel_uri("+16175551234", "2125551234", "2") == "tel:+16175551234;ani=2125551234;postd=2"
    assert tel_uri("+16175551234", None, None) == "tel:+16175551234"


def test_other_regions_use_phonenumbers_directly() -> None:
    gb = PhoneParser("GB")
    assert gb.parse("020 7946 0958").e164 == "+442079460958"
    with pytest.raises(ValueError, match="unknown region"):
        PhoneParser("XX")


def _reference(text: str) -> str | None:
    """What phonenumbers alone says: E.164 of a valid number, else None."""
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)
layouts = st.sampled_from(["{a}{b}{c}", "({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1-{a}-{b}-{c}"])


@settings(max_examples=3000, deadline=None)
@given(digits=ten_digits, layout=layouts)
def test_fast_path_agrees_with_phonenumbers(digits: str, layout: str) -> None:
    text = layout.format(a=digits[:3], b=digits[3:6], c=digits[6:])
    expected = _reference(text)
    try:
        got: str | None = US.parse(text).e164
    except PhoneError:
        got = None
    assert got == expected


phone_like = st.text(alphabet="0123456789 ()+-.x#extTEL:;=ani", max_size=24) | st.builds(
    lambda digits, layout, tail: layout.format(a=digits[:3], b=digits[3:6], c=digits[6:]) + tail,
    ten_digits,
    layouts,
    st.sampled_from(["", " ", " x12", "#9", " ext. 4", "\t", " (cell)", ";ani=6175550100"]),
)


@settings(max_examples=3000, deadline=None)
@given(text=phone_like)
def test_the_imports_fastest_path_reads_only_what_parse_reads_the_same_way(text: str) -> None:
    """plain_pattern (the import's bare rows) may decline a number, but a number it takes is the
    number parse() reads, with nothing else to it (no extension, no caller id)."""
    digits = US.plain_pattern()(text)
    if digits is None:
        return
    phone = US.parse(text)
    assert (phone.e164, phone.ani, phone.postd) == ("+1" + digits, None, None)


def test_fast_path_is_taken_for_plain_formats() -> None:
    # The slow path is the only one that calls phonenumbers.parse; count its calls.
    calls = 0
    original = phonenumbers.parse

    def counting(*args: object, **kwargs: object) -> phonenumbers.PhoneNumber:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    phonenumbers.parse = counting
    try:
        parser = PhoneParser("US")
        for text in ("(617) 555-1234", "617.555.1234", "tel:+16175551234;postd=9", "617-555-1234 x12"):
            parser.parse(text)
        assert calls == 0
        parser.parse("+44 20 7946 0958")
        assert calls == 1
    finally:
        phonenumbers.parse = original


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("305.891.1888 (cell)", "+13058911888"),
        ("mobile: 617-555-0100", "+16175550100"),
        ("Tel. 617 555 0100", "+16175550100"),
        ("Cell 617-555-0100", "+16175550100"),
        ("617-555-0100 home", "+16175550100"),
        ("M: 617 555 0100", "+16175550100"),
        ("1.6175551234E+10", "+16175551234"),  # scientific notation that kept every digit
    ],
)
def test_labels_around_a_number_are_tolerated(text: str, e164: str) -> None:
    assert PhoneParser("US").parse(text).e164 == e164


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Fax: 617-555-0100", "fax"),
        ("617-555-0100 (fax)", "fax"),
        ("1-800-FLOWERS", "letters.*vanity"),
        ("3,46305E+10", "scientific notation: Excel has rounded.*Format the phone column as Text"),
        ("4.47559E+11", "scientific notation"),
    ],
)
def test_fax_vanity_and_destroyed_numbers_are_refused_with_their_reason(text: str, reason: str) -> None:
    with pytest.raises(PhoneError, match=reason):
        PhoneParser("US").parse(text)


def test_international_reading_of_digits_without_a_plus() -> None:
    parser = PhoneParser("US")
    reading = parser.international_reading("447559364316")
    assert reading is not None
    assert (reading.e164, reading.region) == ("+447559364316", "GB")
    assert parser.international_reading("0044 7559 364316") == reading
    assert parser.international_reading("12") is None
    assert parser.international_reading("call me") is None


_NANP = ["US", "CA", "PR", "JM", "BS", "DO", "TT", "GU"]


@settings(max_examples=2000, deadline=None)
@given(
    region=st.sampled_from(_NANP),
    digits=st.text(alphabet="0123456789", min_size=1, max_size=12),
    separators=st.lists(st.sampled_from(["", " ", "-", ".", "(", ")"]), min_size=12, max_size=12),
)
def test_the_short_number_shortcut_says_what_phonenumbers_says(region: str, digits: str, separators: list[str]) -> None:
    text = "".join(d + sep for d, sep in zip(digits, separators, strict=False))
    parser = PhoneParser(region)

    def outcome(parse: object) -> str:
        try:
            return parse(text).e164  # type: ignore[operator,no-any-return]
        except PhoneError as exc:
            return str(exc)

    assert outcome(parser.parse) == outcome(parser._parse_slow)
