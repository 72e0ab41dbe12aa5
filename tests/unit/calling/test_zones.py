"""Each number's zones, against places checked by hand (tests/truth/geography.py): compared by the
clock (standard-time UTC offset in January, daylight saving in July), not by the zone's name."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from batchqueue.calling.zones import ZoneFinder
from tests.truth.geography import PLACES, SPLIT_ZONE_AREA_CODES

WINTER, SUMMER = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC), dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)


def _offset(zone: str, when: dt.datetime) -> str:
    delta = when.astimezone(ZoneInfo(zone)).utcoffset()
    assert delta is not None
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _number(area: str) -> str:
    return f"+1{area}5550100"  # 555-01XX: reserved for fiction, in every area code


def test_an_area_code_that_keeps_two_clocks_everywhere_gives_both() -> None:
    """907: all of Alaska, Alaska time and (west of 169°30'W, Adak) Hawaii-Aleutian time. (Codes split
    by exchange, such as 850, are placed per exchange by phonenumbers' data: 850-432 is Pensacola.)"""
    found = ZoneFinder().find(_number("907"), {})
    assert found is not None
    assert found.source == "number"
    assert {_offset(zone, WINTER) for zone in found.zones} == SPLIT_ZONE_AREA_CODES["907"]


def test_an_exchange_keeps_its_towns_clock() -> None:
    pensacola = PLACES["Pensacola, FL"]
    found = ZoneFinder().find("+18504320100", {})  # 850-432: a Pensacola exchange
    assert found is not None
    assert {_offset(zone, WINTER) for zone in found.zones} == {pensacola.utc_standard}
    assert {_offset(zone, SUMMER) != _offset(zone, WINTER) for zone in found.zones} == {pensacola.dst}


def test_a_zone_column_or_a_zip_wins_over_the_number() -> None:
    finder = ZoneFinder()
    by_column = finder.find(_number("212"), {"timezone": "America/Denver"})
    by_zip = finder.find(_number("212"), {"zip_timezone": "America/Chicago"})
    assert by_column is not None
    assert by_zip is not None
    assert (by_column.zones, by_column.source) == (("America/Denver",), "column")
    assert (by_zip.zones, by_zip.source) == (("America/Chicago",), "zip")


def test_a_toll_free_number_has_no_place_but_its_country_or_the_default() -> None:
    toll_free = "+18005550100"  # 800: non-geographic
    with_default = ZoneFinder("America/Phoenix").find(toll_free, {})
    assert with_default is not None
    assert (with_default.zones, with_default.source) == (("America/Phoenix",), "default")
    country = ZoneFinder().find(toll_free, {})
    assert country is not None
    assert country.source == "region"
    # the US spans Hawaii (UTC-10) to the East coast (UTC-5): the country's zones cover both ends
    assert {"-10:00", "-05:00"} <= {_offset(zone, WINTER) for zone in country.zones}
