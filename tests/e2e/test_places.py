"""Where a contact may be: zone cells, area codes (overlays included), ZIPs, and every source counting.

The truth is outside the code: the towns of ``tests/truth/geography.py`` (their area codes, ZIP and
clock, read from their own pages), what the abbreviations stand for, and phonenumbers' list of the
plan's area codes. Windows are computed at fixed instants, never at the wall clock's.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers.tzdata import TIMEZONE_DATA

from batchqueue.calling.review import CallingReview
from batchqueue.calling.rules import CallingRules
from batchqueue.ledger.records import Claimed
from batchqueue.places.area_codes import area_code
from batchqueue.places.contacts import ZoneFinder
from batchqueue.places.zips import zip_place
from batchqueue.places.zone_names import contact_zones
from tests.truth.geography import PLACES, SPLIT_ZONE_AREA_CODES, Place

#: A winter and a summer instant: clocks compared at both (daylight saving differs).
INSTANTS = (dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC), dt.datetime(2027, 7, 15, 12, tzinfo=dt.UTC))


def _offset(zone: str, at: dt.datetime) -> dt.timedelta | None:
    return at.astimezone(ZoneInfo(zone)).utcoffset()


def _clocks(zones: tuple[str, ...] | set[str]) -> set[tuple[dt.timedelta | None, ...]]:
    """Each zone as its (winter, summer) UTC offsets: the same clock under two names is one."""
    return {tuple(_offset(z, at) for at in INSTANTS) for z in zones}


def _standard(zones: tuple[str, ...]) -> set[str]:
    """The standard (winter) offsets of the zones, as "-06:00"."""
    found = set()
    for zone in zones:
        off = _offset(zone, INSTANTS[0])
        assert off is not None
        minutes = int(off.total_seconds()) // 60
        found.add(f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}")
    return found


# --- zone cells ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "clock_of"),
    [
        ("CST", "America/Chicago"),
        ("CDT", "America/Chicago"),
        ("cst", "America/Chicago"),
        ("EST", "America/New_York"),
        ("EDT", "America/New_York"),
        ("PST", "America/Los_Angeles"),
        ("PDT", "America/Los_Angeles"),
        ("AKST", "America/Anchorage"),
        ("AKDT", "America/Anchorage"),
        ("HST", "Pacific/Honolulu"),
        ("Eastern", "America/New_York"),
        ("Central", "America/Chicago"),
        ("Pacific", "America/Los_Angeles"),
        ("Alaska", "America/Anchorage"),
        ("Hawaii", "Pacific/Honolulu"),
        ("Central Standard Time", "America/Chicago"),
        ("Eastern Time (US & Canada)", "America/New_York"),
        ("America/Chicago", "America/Chicago"),
        ("america/denver", "America/Denver"),
    ],
)
def test_a_zone_cell_names_the_clock_people_mean(cell: str, clock_of: str) -> None:
    assert _clocks(contact_zones(cell)) == _clocks({clock_of})


def test_mountain_time_is_denvers_clock_or_arizonas() -> None:
    """Arizona keeps MST all year; Denver moves to MDT: a window must suit both."""
    for cell in ("MST", "Mountain"):
        assert _clocks(contact_zones(cell)) == _clocks({"America/Denver", "America/Phoenix"})
    assert _clocks(contact_zones("MDT")) == _clocks({"America/Denver"})


@pytest.mark.parametrize(("cell", "hours"), [("UTC-5", -5), ("-05:00", -5), ("GMT+3", 3), ("UTC-03:30", -3.5)])
def test_an_offset_is_a_fixed_zone(cell: str, hours: float) -> None:
    """The cell's own clock comes first (its start and end cells are read there); a North American
    zone whose winter or summer clock it is may follow (see test_place_cells)."""
    zone = contact_zones(cell)[0]
    for at in INSTANTS:  # the same offset winter and summer
        assert dt.datetime(2027, at.month, 15, tzinfo=dt.UTC).astimezone(_tz(zone)).utcoffset() == dt.timedelta(
            hours=hours
        )


def _tz(name: str) -> dt.tzinfo:
    from batchqueue.places.zone_names import zone

    return zone(name)


@pytest.mark.parametrize("cell", ["Moon time", "CET?", "Time", "12", "America/Atlantis"])
def test_garbage_is_not_read(cell: str) -> None:
    with pytest.raises(ValueError, match="is not a time zone"):
        contact_zones(cell)


def test_a_cst_cell_places_the_row_and_garbage_falls_back_to_zip_and_number(tmp_path: Any, run_cli: Any) -> None:
    from tests.conftest import write_csv

    path = write_csv(
        tmp_path / "dialer.csv",
        [["Phone", "TZ", "Zip"], ["3125550101", "CST", "60601"], ["3125550102", "n/a?", "90012"]],
    )
    data = run_cli("check", path, "--timezone-column", "TZ", "--zip-column", "Zip", "--json").json()
    assert (data["valid"], data["invalid"]) == (2, 0)
    (warned,) = data["row_warnings"]
    assert (warned["row"], warned["column"], warned["column_letter"]) == (3, "TZ", "B")
    assert "'n/a?'" in warned["warning"]


# --- area codes -----------------------------------------------------------------------------------


def _number(code: str, rng: random.Random | None = None) -> str:
    exchange = rng.randint(200, 999) if rng else 555
    return f"+1{code}{exchange}{(rng.randint(0, 9999) if rng else 100):04d}"


@pytest.mark.parametrize("place", list(PLACES.values()), ids=list(PLACES))
def test_every_area_code_of_a_town_places_a_number_in_its_clock_and_state(place: Place) -> None:
    """Every code serving the town (an overlay too: 448 of 850, 364 of 270, 930 of 812, 458 of 541)."""
    finder = ZoneFinder()
    for code in place.area_codes:
        found = finder.find(_number(code), {})
        assert found is not None
        assert _clocks({place.zone}) <= _clocks(found.zones), (code, found.zones)
        if place.observed_zone:
            assert _clocks({place.observed_zone}) <= _clocks(found.zones), (code, found.zones)
        assert place.state.removeprefix("US-") in found.states
        assert found.source == "number"


@pytest.mark.parametrize("code", sorted(SPLIT_ZONE_AREA_CODES))
def test_a_split_zone_area_code_gets_every_clock(code: str) -> None:
    found = ZoneFinder().find(_number(code), {})
    assert found is not None
    assert SPLIT_ZONE_AREA_CODES[code] <= _standard(found.zones), found.zones


@pytest.mark.parametrize(
    ("overlay", "state", "offsets"),
    [
        ("448", "FL", {"-06:00", "-05:00"}),
        ("364", "KY", {"-06:00"}),
        ("930", "IN", {"-06:00", "-05:00"}),
        ("458", "OR", {"-08:00", "-07:00"}),
    ],
)
def test_overlays_from_the_brief(overlay: str, state: str, offsets: set[str]) -> None:
    found = ZoneFinder().find(_number(overlay), {})
    assert found is not None
    assert found.states == (state,)
    assert offsets <= _standard(found.zones)


def test_every_us_and_canadian_area_code_phonenumbers_knows_has_states_and_zones() -> None:
    """phonenumbers' own list of geographic codes (its time-zone data) is the outside check of coverage."""
    missing = []
    for prefix in TIMEZONE_DATA:
        if not (prefix.startswith("1") and len(prefix) == 4):
            continue
        number = phonenumbers.parse(f"+{prefix}5550100")
        region = phonenumbers.region_code_for_number(number)
        if region not in ("US", "CA", "PR", "VI", "GU", "MP", "AS"):
            continue
        found = area_code(prefix[1:])
        if found is None or not found.zones or (region != "CA" and not found.states):
            missing.append(prefix[1:])
    assert missing == []


# --- every source counts --------------------------------------------------------------------------


def _row(e164: str, facts: dict[str, Any]) -> Claimed:
    return Claimed(1, 2, "tel:" + e164, e164, None, None, None, None, None, None, [], 1, facts)


def test_a_212_number_with_a_los_angeles_zip_gets_both_zones_and_their_intersection() -> None:
    la = zip_place("90012")
    assert la is not None
    assert la[1] == "CA"
    facts = {"zip_timezone": la[0], "state": la[1]}
    review = CallingReview([CallingRules.parse()])
    contact = review.contact(_row("+12125550100", facts))
    assert contact is not None
    assert _clocks(contact.zones) == _clocks({"America/New_York", "America/Los_Angeles"})
    assert contact.states == ("CA", "NY")
    assert contact.source == "zip+number"
    verdict = review.verdict(_row("+12125550100", facts), dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC).timestamp())
    assert verdict.start_ts is not None
    assert verdict.end_ts is not None
    opens = dt.datetime.fromtimestamp(verdict.start_ts, ZoneInfo("America/Los_Angeles"))
    closes = dt.datetime.fromtimestamp(verdict.end_ts, ZoneInfo("America/New_York"))
    assert (opens.strftime("%H:%M"), closes.strftime("%H:%M")) == ("08:00", "21:00")  # 11:00-21:00 in New York
    assert verdict.states == "CA NY"
    assert verdict.places == "zip: America/Los_Angeles (CA); number: America/New_York (NY)"


def test_a_florida_number_with_a_new_york_zip_is_in_both_states_and_floridas_rule_holds() -> None:
    ny = zip_place("10001")
    assert ny is not None
    assert ny[1] == "NY"
    facts = {"zip_timezone": ny[0], "state": ny[1]}
    rules = CallingRules.parse(overrides={"states": {"FL": {"hours": "08:00-20:00"}}})
    review = CallingReview([rules])
    pensacola = PLACES["Pensacola, FL"]
    contact = review.contact(_row(_number(pensacola.area_codes[0]), facts))
    assert contact is not None
    assert contact.states == ("FL", "NY")
    verdict = review.verdict(_row(_number("305"), facts), dt.datetime(2027, 1, 15, 15, tzinfo=dt.UTC).timestamp())
    assert verdict.end_ts is not None
    assert dt.datetime.fromtimestamp(verdict.end_ts, ZoneInfo("America/New_York")).strftime("%H:%M") == "20:00"
    # Both states' rules hold at once: New York's later opening and Florida's earlier closing.
    both = CallingReview(
        [CallingRules.parse(overrides={"states": {"FL": {"hours": "08:00-20:00"}, "NY": {"hours": "09:00-21:00"}}})]
    )
    verdict = both.verdict(_row(_number("305"), facts), dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC).timestamp())
    assert verdict.start_ts is not None
    assert verdict.end_ts is not None
    window = [
        dt.datetime.fromtimestamp(t, ZoneInfo("America/New_York")).strftime("%H:%M")
        for t in (verdict.start_ts, verdict.end_ts)
    ]
    assert window == ["09:00", "20:00"]


def _truth_zones(code: str, zip_town: Place | None, cell_zone: str | None) -> set[str]:
    """Where the truth says such a contact may be: every town its area code serves (and the zone it
    keeps), its ZIP's town, its own cell."""
    zones = {z for p in PLACES.values() if code in p.area_codes for z in (p.zone, p.observed_zone) if z}
    if zip_town is not None:
        zones.add(zip_town.zone)
    if cell_zone is not None:
        zones.add(cell_zone)
    return zones


def test_generated_contacts_are_called_only_between_8_and_21_wherever_they_may_be() -> None:
    """The property of issue 21 over 3,000 generated contacts: a number of a town's area code, maybe a
    ZIP of another town, maybe a zone cell; at instants across a year (fixed seed, not the clock)."""
    rng = random.Random(21)
    towns = list(PLACES.values())
    zipped = [t for t in towns if t.zip_code]
    cells = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles"]
    review = CallingReview([CallingRules.parse()])
    checked = held = 0
    for _ in range(3000):
        town = rng.choice(towns)
        code = rng.choice(town.area_codes)
        facts: dict[str, Any] = {}
        zip_town = rng.choice(zipped) if rng.random() < 0.6 else None
        if zip_town is not None and zip_town.zip_code:
            place = zip_place(zip_town.zip_code)
            assert place is not None
            facts.update({"zip_timezone": place[0], "state": place[1]})
        cell = rng.choice(cells) if rng.random() < 0.3 else None
        if cell is not None:
            facts["timezone"] = cell
        now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        verdict = review.verdict(_row(_number(code, rng), facts), now.timestamp())
        if not verdict.send:
            held += 1
            continue
        assert verdict.start_ts is not None
        assert verdict.end_ts is not None
        for zone in _truth_zones(code, zip_town, cell):
            opens = dt.datetime.fromtimestamp(verdict.start_ts, ZoneInfo(zone))
            closes = dt.datetime.fromtimestamp(verdict.end_ts, ZoneInfo(zone))
            assert opens.time() >= dt.time(8), (code, facts, zone, opens)
            assert closes.date() == opens.date(), (code, facts, zone, closes)
            assert closes.time() <= dt.time(21), (code, facts, zone, closes)
        checked += 1
    assert checked > 2000  # most contacts' zones share some daytime hours


def test_a_huge_garbage_cell_gets_a_short_message() -> None:
    with pytest.raises(ValueError, match="is not a time zone") as caught:
        contact_zones("Central" + "x" * 100_000)
    assert len(str(caught.value)) < 300


def test_a_claim_keeps_each_rows_zones_states_and_sources_on_both_backends(ledger_url: str, tmp_path: Any) -> None:
    """What the window was set in is kept on the row (migration 0016) and read back by the report."""
    from batchqueue.intake.importer import import_file
    from batchqueue.intake.mapping.spec import MappingSpec
    from batchqueue.ledger import open_ledger
    from tests.conftest import write_csv

    source = write_csv(
        tmp_path / "c.csv", [["Phone", "ZIP", "TZ"], ["2125550100", "90012", ""], ["8505550100", "10001", "CST"]]
    )
    ledger = open_ledger(ledger_url)
    try:
        job = import_file(ledger, source, MappingSpec(), survey_id="1", instance_id="1").job_id
        assert job is not None
        claimed = ledger.claim(job, 10, review=CallingReview([CallingRules.parse()]))
        assert len(claimed) == 2
        kept = [(r.sent_timezone, r.timezone_source, r.sent_states, r.sent_places) for r in ledger.report_rows(job)]
    finally:
        ledger.close()
    assert kept == [
        (
            "America/Los_Angeles & America/New_York",
            "zip+number",
            "CA NY",
            "zip: America/Los_Angeles (CA); number: America/New_York (NY)",
        ),
        (
            "America/Chicago & America/New_York",
            "several",
            "FL NY",
            "column: America/Chicago; zip: America/New_York (NY); number: America/Chicago, America/New_York (FL)",
        ),
    ]
