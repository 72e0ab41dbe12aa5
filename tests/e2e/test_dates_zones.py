"""Reading dates as people write them, time zones as people name them, countries as people spell them."""

from __future__ import annotations

import datetime as dt

import pytest

from batchqueue.intake.mapping.dates import DateReader, check_pattern
from batchqueue.intake.mapping.regions import region_of
from batchqueue.intake.mapping.times import TimeParser, canonical_zone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-16 17:00", dt.datetime(2026, 12, 16, 17, 0)),
        ("2026/12/16", dt.datetime(2026, 12, 16)),
        ("16/12/2026 17:00", dt.datetime(2026, 12, 16, 17, 0)),  # day > 12: only one order
        ("12/16/2026 5:00 PM", dt.datetime(2026, 12, 16, 17, 0)),
        ("16.12.26", dt.datetime(2026, 12, 16)),
        ("4/4/2026", dt.datetime(2026, 4, 4)),  # both orders agree
        ("Dec 4, 2026", dt.datetime(2026, 12, 4)),
        ("December 4, 2026 5:30 PM", dt.datetime(2026, 12, 4, 17, 30)),
        ("4 déc. 2026", dt.datetime(2026, 12, 4)),
        ("4 de diciembre de 2026", dt.datetime(2026, 12, 4)),
        ("4. Dezember 2026 14:30", dt.datetime(2026, 12, 4, 14, 30)),
        ("Friday, December 4, 2026", dt.datetime(2026, 12, 4)),
    ],
)
def test_dates_people_write(text: str, expected: dt.datetime) -> None:
    assert DateReader().read(text) == expected


def test_ambiguous_day_month_is_refused_naming_the_options_that_decide() -> None:
    with pytest.raises(ValueError, match=r"ambiguous.*--dayfirst.*--date-format '%m/%d/%Y'"):
        DateReader().read("12/03/2026")
    assert DateReader(dayfirst=True).read("12/03/2026") == dt.datetime(2026, 3, 12)
    assert DateReader(formats=["%m/%d/%Y"]).read("12/03/2026") == dt.datetime(2026, 12, 3)


def test_a_pattern_fixes_the_order_for_values_it_does_not_match() -> None:
    month_first = DateReader(formats=["%m/%d/%Y"])
    assert month_first.read("12/03/2026 10:00") == dt.datetime(2026, 12, 3, 10, 0)
    with pytest.raises(ValueError, match="month/day/year"):
        month_first.read("16/12/2026")
    with pytest.raises(ValueError, match="contradicts"):
        DateReader(formats=["%m/%d/%Y"], dayfirst=True)


def test_an_unreadable_date_names_every_form_tried() -> None:
    with pytest.raises(ValueError, match=r"tried ISO 8601.*--date-format '%d\.%m\.%Y'.*month names"):
        DateReader(formats=["%d.%m.%Y"]).read("sometime soon")
    with pytest.raises(ValueError, match="has no year"):
        DateReader().read("Dec 4")
    with pytest.raises(ValueError, match="not a real date"):
        DateReader().read("31/02/2026")


def test_date_format_patterns_are_checked() -> None:
    assert check_pattern("%d/%m/%Y %H:%M") == "%d/%m/%Y %H:%M"
    with pytest.raises(ValueError, match="no strftime directive"):
        check_pattern("dd/mm/yyyy")


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("America/New_York", "America/New_York"),
        ("asia/kolkata", "Asia/Kolkata"),
        ("America/Los Angeles", "America/Los_Angeles"),
        ("EST", "America/New_York"),
        ("pst", "America/Los_Angeles"),
        ("HST", "Pacific/Honolulu"),
        ("UTC+5:30", "UTC+05:30"),
        ("GMT-3", "UTC-03:00"),
        ("utc", "UTC"),
    ],
)
def test_zone_names(text: str, zone: str) -> None:
    assert canonical_zone(text) == zone


@pytest.mark.parametrize(
    ("text", "message"), [("CST", "ambiguous"), ("IST", "Asia/Kolkata"), ("Mars", "not a time zone")]
)
def test_zone_names_that_do_not_name_one_place(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonical_zone(text)


def test_fixed_offset_and_named_zones_read_local_times() -> None:
    assert TimeParser("UTC+05:30").parse("2026-12-01 09:00") == TimeParser("Asia/Kolkata").parse("2026-12-01 09:00")
    summer, winter = TimeParser("EST").parse("2026-07-01 09:00"), TimeParser("EST").parse("2026-12-01 09:00")
    assert dt.datetime.fromtimestamp(summer, dt.UTC).hour == 13  # EDT in July: New York's clock
    assert dt.datetime.fromtimestamp(winter, dt.UTC).hour == 14


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("MX", "MX"),
        ("mx", "MX"),
        ("MEX", "MX"),
        ("Mexico", "MX"),
        ("México", "MX"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("+44", "GB"),
        ("44", "GB"),
        ("Deutschland", "DE"),
        ("Allemagne", "DE"),
        ("España", "ES"),
        ("United States", "US"),
        ("+1", "US"),
        ("Narnia", None),
        ("", None),
    ],
)
def test_countries_as_people_spell_them(text: str, region: str | None) -> None:
    assert region_of(text) == region
