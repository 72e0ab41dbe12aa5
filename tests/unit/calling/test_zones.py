"""Each number's zones, against facts checked by hand (tests/truth/geography.py): compared by the
clock (the standard-time UTC offset in January), not by the zone's name."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from batchqueue.calling.zones import ZoneFinder
from tests.truth.geography import SPLIT_ZONE_AREA_CODES

WINTER = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)  # standard time everywhere in the US


def _offset(zone: str, when: dt.datetime) -> str:
    delta = when.astimezone(ZoneInfo(zone)).utcoffset()
    assert delta is not None
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _number(area: str) -> str:
    return f"+1{area}5550100"  # 555-01XX: reserved for fiction, in every area code


def test_an_area_code_that_keeps_two_clocks_everywhere_gives_both() -> None:
    """907: all of Alaska, Alaska time and (west of 169°30'W, Adak) Hawaii-Aleutian time."""
    found = ZoneFinder().find(_number("907"), {})
    assert found is not None
    assert found.source == "number"
    assert {_offset(zone, WINTER) for zone in found.zones} == SPLIT_ZONE_AREA_CODES["907"]


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
