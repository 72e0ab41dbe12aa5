"""Calling windows at fixed moments: each zone's local hours, days that cross a daylight-saving
change, area codes spanning two zones, non-geographic numbers, days, holidays, blackouts and
per-state overrides. The send-time rule is the real one (``CallingReview``), given a fixed ``now``;
``tests/e2e/test_calling_hours.py`` checks the same windows end to end against the sandbox's record."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from batchqueue.calling.review import CallingReview
from batchqueue.calling.rules import CallingRules, run_rules
from batchqueue.errors import UsageError
from batchqueue.holds import FOREVER
from batchqueue.ledger.records import Claimed


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def row(e164: str, *, facts: dict[str, Any] | None = None, start: int | None = None, end: int | None = None,
        attempts: int | None = None, wait: int | None = None) -> Claimed:  # fmt: skip
    return Claimed(1, 2, "tel:" + e164, e164, start, end, attempts, wait, None, None, [], 1, facts or {})


def local(ts: int | None, zone: str) -> str:
    assert ts is not None
    return dt.datetime.fromtimestamp(ts, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def window(review: CallingReview, claimed: Claimed, now: str) -> tuple[int | None, int | None]:
    verdict = review.verdict(claimed, utc(now))
    assert verdict.send, verdict.reason
    return verdict.start_ts, verdict.end_ts


DEFAULT = CallingReview([CallingRules.parse()])

# (number, zone it is in, a moment (UTC) and the local window the row must get)
SINGLE_ZONES = [
    ("+16175550101", "America/New_York", "2026-12-01 15:00", ("2026-12-01 08:00", "2026-12-01 21:00")),
    ("+13125550101", "America/Chicago", "2026-12-01 15:00", ("2026-12-01 08:00", "2026-12-01 21:00")),
    ("+13035550101", "America/Denver", "2026-12-01 15:00", ("2026-12-01 08:00", "2026-12-01 21:00")),
    ("+16025550101", "America/Phoenix", "2026-07-01 15:00", ("2026-07-01 08:00", "2026-07-01 21:00")),
    ("+14155550101", "America/Los_Angeles", "2026-12-01 15:00", ("2026-12-01 08:00", "2026-12-01 21:00")),
    ("+18085550101", "Pacific/Honolulu", "2026-12-01 15:00", ("2026-12-01 08:00", "2026-12-01 21:00")),
    # 03:00 UTC is 22:00 in New York: the window is tomorrow's.
    ("+16175550101", "America/New_York", "2026-12-02 03:00", ("2026-12-02 08:00", "2026-12-02 21:00")),
]


@pytest.mark.parametrize(("e164", "zone", "now", "expected"), SINGLE_ZONES)
def test_each_zone_gets_its_own_local_hours(e164: str, zone: str, now: str, expected: tuple[str, str]) -> None:
    start, end = window(DEFAULT, row(e164), now)
    assert (local(start, zone), local(end, zone)) == expected
    assert DEFAULT.verdict(row(e164), utc(now)).timezone == zone


def test_arizona_keeps_its_hours_while_denver_moves() -> None:
    """Phoenix has no daylight saving: its window sits at the same UTC hours in July and December."""
    summer = window(DEFAULT, row("+16025550101"), "2026-07-01 15:00")
    winter = window(DEFAULT, row("+16025550101"), "2026-12-01 15:00")
    assert [dt.datetime.fromtimestamp(t or 0, dt.UTC).hour for t in summer] == [15, 4]
    assert [dt.datetime.fromtimestamp(t or 0, dt.UTC).hour for t in winter] == [15, 4]
    denver_summer = window(DEFAULT, row("+13035550101"), "2026-07-01 15:00")
    assert dt.datetime.fromtimestamp(denver_summer[0] or 0, dt.UTC).hour == 14


@pytest.mark.parametrize(
    ("now", "expected_utc"),
    [
        # Sunday 8 March 2026, US clocks spring forward at 02:00: 08:00 EDT is 12:00 UTC.
        ("2026-03-08 06:00", ("2026-03-08 12:00", "2026-03-09 01:00")),
        # The day before, still EST: 08:00 is 13:00 UTC.
        ("2026-03-07 06:00", ("2026-03-07 13:00", "2026-03-08 02:00")),
        # Sunday 1 November 2026, clocks fall back at 02:00: 08:00 EST is 13:00 UTC again.
        ("2026-11-01 06:00", ("2026-11-01 13:00", "2026-11-02 02:00")),
        # 21:30 EDT on 31 October: the next window is on the day of the change.
        ("2026-11-01 01:30", ("2026-11-01 13:00", "2026-11-02 02:00")),
    ],
)
def test_daylight_saving_days_keep_local_hours(now: str, expected_utc: tuple[str, str]) -> None:
    start, end = window(DEFAULT, row("+16175550101"), now)
    assert (local(start, "UTC"), local(end, "UTC")) == expected_utc


def test_a_whole_day_across_a_daylight_saving_change_is_23_or_25_hours() -> None:
    always = CallingReview([CallingRules.parse(hours="00:00-24:00", days="sun")])
    spring = window(always, row("+16175550101"), "2026-03-08 06:00")
    autumn = window(always, row("+16175550101"), "2026-11-01 06:00")
    assert (spring[1] or 0) - (spring[0] or 0) == 23 * 3600
    assert (autumn[1] or 0) - (autumn[0] or 0) == 25 * 3600


def test_london_changes_on_its_own_date() -> None:
    """Europe springs forward on 29 March 2026, three weeks after the US."""
    start, _ = window(DEFAULT, row("+442079460000"), "2026-03-29 05:00")
    assert local(start, "UTC") == "2026-03-29 07:00"  # 08:00 BST
    start, _ = window(DEFAULT, row("+442079460000"), "2026-03-28 05:00")
    assert local(start, "UTC") == "2026-03-28 08:00"  # 08:00 GMT


def test_newfoundland_half_hour_offset() -> None:
    start, end = window(DEFAULT, row("+18005550101", facts={"timezone": "America/St_Johns"}), "2026-12-01 15:00")
    assert (local(start, "UTC"), local(end, "UTC")) == ("2026-12-01 11:30", "2026-12-02 00:30")
    # A 709 number may be in Labrador too (Atlantic time): 08:00 there, 21:00 in St. John's.
    start, end = window(DEFAULT, row("+17095550101", facts={"timezone": "America/St_Johns"}), "2026-12-01 15:00")
    assert (local(start, "UTC"), local(end, "UTC")) == ("2026-12-01 12:00", "2026-12-02 00:30")


def test_an_area_code_spanning_two_zones_gets_the_intersection() -> None:
    # 907: Alaska and the Aleutians (an hour behind); 709: Newfoundland and Labrador (Atlantic).
    alaska = DEFAULT.verdict(row("+19075550101"), utc("2026-12-01 20:00"))
    assert {"America/Adak", "America/Anchorage"} <= set((alaska.timezone or "").split(" & "))
    assert (local(alaska.start_ts, "America/Adak"), local(alaska.end_ts, "America/Anchorage")) == (
        "2026-12-01 08:00",
        "2026-12-01 21:00",
    )
    place = DEFAULT.contact(row("+17095550101"))
    assert place is not None
    assert place.country == "CA"
    labrador = DEFAULT.verdict(row("+17095550101"), utc("2026-12-01 15:00"))
    assert (local(labrador.start_ts, "America/Halifax"), local(labrador.end_ts, "America/St_Johns")) == (
        "2026-12-01 08:00",
        "2026-12-01 21:00",
    )


def test_a_non_geographic_number_gets_the_countrys_safe_window() -> None:
    verdict = DEFAULT.verdict(row("+18005550101"), utc("2026-12-01 20:00"))
    assert verdict.timezone_source == "region"
    # Every US zone must allow it: 08:00 in Honolulu (the last to open) to 21:00 in New York.
    assert local(verdict.start_ts, "Pacific/Honolulu") == "2026-12-01 08:00"
    assert local(verdict.end_ts, "America/New_York") == "2026-12-01 21:00"
    assert local(verdict.start_ts, "America/New_York") == "2026-12-01 13:00"
    # With --default-timezone, that zone is used instead.
    chicago = CallingReview([CallingRules.parse()], default_zone="America/Chicago")
    verdict = chicago.verdict(row("+18005550101"), utc("2026-12-01 20:00"))
    assert (verdict.timezone, verdict.timezone_source) == ("America/Chicago", "default")


def test_every_source_counts_and_the_window_suits_them_all() -> None:
    # Delhi (column), Honolulu (ZIP) and Boston (area code) share no daytime hour: held, never guessed.
    delhi = row("+16175550101", facts={"timezone": "Asia/Kolkata", "zip_timezone": "Pacific/Honolulu"})
    verdict = DEFAULT.verdict(delhi, utc("2026-12-01 05:00"))
    assert not verdict.send
    assert "America/New_York & Asia/Kolkata & Pacific/Honolulu" in (verdict.reason or "")
    honolulu = DEFAULT.verdict(row("+16175550101", facts={"zip_timezone": "Pacific/Honolulu"}), utc("2026-12-01 20:00"))
    assert (honolulu.timezone, honolulu.timezone_source) == ("America/New_York & Pacific/Honolulu", "zip+number")
    assert local(honolulu.start_ts, "Pacific/Honolulu") == "2026-12-01 08:00"
    assert local(honolulu.end_ts, "America/New_York") == "2026-12-01 21:00"


def test_never_wider_than_the_rows_own_start_and_end() -> None:
    own_start, own_end = int(utc("2026-12-01 18:00")), int(utc("2026-12-01 19:30"))
    start, end = window(DEFAULT, row("+16175550101", start=own_start, end=own_end), "2026-12-01 15:00")
    assert (start, end) == (own_start, own_end)
    # Its own window lies wholly outside the calling hours: it is held, never sent.
    night = row("+16175550101", start=int(utc("2026-12-02 03:00")), end=int(utc("2026-12-02 05:00")))
    verdict = DEFAULT.verdict(night, utc("2026-12-01 15:00"))
    assert not verdict.send
    assert verdict.hold_until == FOREVER
    assert "own end" in (verdict.reason or "")


@pytest.mark.parametrize(
    ("rules", "now", "expected_start"),
    [
        (CallingRules.parse(days="mon-fri"), "2026-11-28 15:00", "2026-11-30 08:00"),  # Saturday → Monday
        (CallingRules.parse(holidays="US"), "2026-12-25 15:00", "2026-12-26 08:00"),  # Christmas Day
        (CallingRules.parse(blackout=("2026-12-24..2026-12-26",)), "2026-12-24 15:00", "2026-12-27 08:00"),
    ],
)
def test_days_holidays_and_blackouts(rules: CallingRules, now: str, expected_start: str) -> None:
    start, _ = window(CallingReview([rules]), row("+16175550101"), now)
    assert local(start, "America/New_York") == expected_start


def test_state_holiday_calendar_applies_to_its_state() -> None:
    cesar_chavez = CallingReview([CallingRules.parse(holidays="US-CA")])
    start, _ = window(cesar_chavez, row("+14155550101"), "2026-03-31 17:00")
    assert local(start, "America/Los_Angeles") == "2026-04-01 08:00"


def test_per_state_override_replaces_the_hours_there() -> None:
    rules = CallingRules.parse(overrides={"states": {"FL": {"hours": "08:00-20:00"}}})
    review = CallingReview([rules])
    _, miami_end = window(review, row("+13055550101"), "2026-12-01 15:00")
    _, boston_end = window(review, row("+16175550101"), "2026-12-01 15:00")
    assert local(miami_end, "America/New_York") == "2026-12-01 20:00"
    assert local(boston_end, "America/New_York") == "2026-12-01 21:00"
    # A 305 number with a Boston ZIP may be in either state: Florida's rule still holds (its law presumes a
    # call to a Florida area code reaches a Floridian), and so would Massachusetts'.
    _, moved_end = window(review, row("+13055550101", facts={"state": "MA"}), "2026-12-01 15:00")
    assert local(moved_end, "America/New_York") == "2026-12-01 20:00"
    _, boston_in_florida = window(review, row("+16175550101", facts={"state": "FL"}), "2026-12-01 15:00")
    assert local(boston_in_florida, "America/New_York") == "2026-12-01 20:00"


def test_per_country_override() -> None:
    rules = CallingRules.parse(overrides={"countries": {"GB": {"hours": "09:00-20:00", "days": "mon-fri"}}})
    start, end = window(CallingReview([rules]), row("+442079460000"), "2026-11-28 10:00")  # a Saturday
    assert (local(start, "Europe/London"), local(end, "Europe/London")) == ("2026-11-30 09:00", "2026-11-30 20:00")


def test_a_run_narrows_but_never_widens_unless_asked() -> None:
    job = CallingRules.parse(hours="09:00-17:00")
    wider = run_rules(job, hours="07:00-22:00", days=None, holidays=None, blackout=(), widen=False)
    start, end = window(CallingReview(wider), row("+16175550101"), "2026-12-01 15:00")
    assert (local(start, "America/New_York"), local(end, "America/New_York")) == (
        "2026-12-01 09:00",
        "2026-12-01 17:00",
    )
    narrower = run_rules(job, hours="10:00-12:00", days=None, holidays=None, blackout=(), widen=False)
    start, end = window(CallingReview(narrower), row("+16175550101"), "2026-12-01 15:00")
    assert (local(start, "America/New_York"), local(end, "America/New_York")) == (
        "2026-12-01 10:00",
        "2026-12-01 12:00",
    )
    widened = run_rules(job, hours="07:00-22:00", days=None, holidays=None, blackout=(), widen=True)
    start, end = window(CallingReview(widened), row("+16175550101"), "2026-12-01 15:00")
    assert (local(start, "America/New_York"), local(end, "America/New_York")) == (
        "2026-12-01 07:00",
        "2026-12-01 22:00",
    )
    with pytest.raises(UsageError, match="widen"):
        run_rules(job, hours=None, days=None, holidays=None, blackout=(), widen=True)


def test_reattempts_are_reduced_to_fit_the_window() -> None:
    review = CallingReview([CallingRules.parse(hours="09:00-12:00")])
    # 5 attempts an hour apart need 4 hours; 09:00-12:00 holds 4 (at 09, 10, 11 and 12).
    verdict = review.verdict(row("+16175550101", attempts=5, wait=3600), utc("2026-12-01 12:00"))
    assert verdict.max_attempts == 4
    assert review.attempts_reduced == 1
    fits = review.verdict(row("+16175550101", attempts=3, wait=3600), utc("2026-12-01 12:00"))
    assert fits.max_attempts is None  # unchanged: they fit
    # Half the window has passed at 10:30: only 2 attempts still fit.
    late = review.verdict(row("+16175550101", attempts=5, wait=3600), utc("2026-12-01 15:30"))
    assert late.max_attempts == 2


def test_hold_until_window_keeps_a_closed_window_pending() -> None:
    review = CallingReview([CallingRules.parse()], hold_until_window=True)
    night = review.verdict(row("+16175550101"), utc("2026-12-02 03:00"))  # 22:00 in New York
    assert not night.send
    assert night.hold_until == utc("2026-12-02 13:00")
    day = review.verdict(row("+16175550101"), utc("2026-12-01 15:00"))
    assert day.send


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": "21:00-08:00"}, "start must come before the end"),
        ({"hours": "9-5"}, "HH:MM-HH:MM"),
        ({"days": "weekdays"}, "mon-fri"),
        ({"holidays": "XX"}, "holidays package"),
        ({"holidays": "US-ZZ"}, "no subdivision"),
        ({"blackout": ("2026-12-26..2026-12-24",)}, "ends before it starts"),
        ({"overrides": {"states": {"Florida": {"hours": "08:00-20:00"}}}}, "two-letter"),
        ({"overrides": {"states": {"FL": {"open": "08:00"}}}}, "unknown key"),
    ],
)
def test_bad_rules_are_refused_with_a_message(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        CallingRules.parse(**kwargs)


def test_rules_survive_storage() -> None:
    rules = CallingRules.parse(
        hours="09:00-20:00",
        days="mon-sat",
        holidays="us-ca",
        blackout=("2026-12-24..2026-12-26",),
        overrides={"states": {"FL": {"hours": "08:00-20:00"}}, "countries": {"GB": {"days": "mon-fri"}}},
    )
    assert CallingRules.from_json(rules.as_json()) == rules
    assert CallingRules.from_json(None) == CallingRules.parse()
    assert "09:00-20:00 local, mon-sat, not on US-CA holidays" in rules.describe()


# Calling days are the contact's own dates. Each case is a moment when the contact's local date is
# not the UTC date, so a day judged on the UTC calendar gives another window. 27 November 2026 is
# a Friday; Tokyo is UTC+9, Honolulu UTC-10 (no daylight saving in either).
@pytest.mark.parametrize(
    ("rules", "e164", "zone", "now", "expected"),
    [
        # Saturday 08:30 in Tokyo (Friday in UTC): no weekday call until Monday 08:00 there.
        (CallingRules.parse(days="mon-fri"), "+81312345678", "Asia/Tokyo", "2026-11-27 23:30",
         ("2026-11-30 08:00", "2026-11-30 21:00")),
        # Friday 20:00 in Honolulu (Saturday in UTC): Friday's window is still open there.
        (CallingRules.parse(days="mon-fri"), "+18085550101", "Pacific/Honolulu", "2026-11-28 06:00",
         ("2026-11-27 08:00", "2026-11-27 21:00")),
        # Sunday 07:30 in Tokyo (Saturday in UTC): only Sundays allowed, and it is one there.
        (CallingRules.parse(days="sun"), "+81312345678", "Asia/Tokyo", "2026-11-28 22:30",
         ("2026-11-29 08:00", "2026-11-29 21:00")),
        # Christmas evening in Honolulu (26 December in UTC): still a holiday there.
        (CallingRules.parse(holidays="US"), "+18085550101", "Pacific/Honolulu", "2026-12-26 05:00",
         ("2026-12-26 08:00", "2026-12-26 21:00")),
        # 1 December in Tokyo (30 November in UTC) is blacked out; 2 December is not.
        (CallingRules.parse(blackout=("2026-12-01..2026-12-01",)), "+81312345678", "Asia/Tokyo", "2026-11-30 23:30",
         ("2026-12-02 08:00", "2026-12-02 21:00")),
    ],
    ids=["weekdays-tokyo-saturday", "weekdays-honolulu-friday-evening", "sundays-tokyo", "holiday-honolulu",
         "blackout-tokyo"],
)  # fmt: skip
def test_calling_days_are_the_contacts_local_dates_not_utc_dates(
    rules: CallingRules, e164: str, zone: str, now: str, expected: tuple[str, str]
) -> None:
    start, end = window(CallingReview([rules]), row(e164), now)
    assert (local(start, zone), local(end, zone)) == expected


def test_the_window_of_the_contacts_evening_is_found_though_its_utc_date_is_the_next_day() -> None:
    # 01:00 UTC on 2 December is 20:00 on 1 December in New York: that local day's window is open.
    start, end = window(DEFAULT, row("+16175550101"), "2026-12-02 01:00")
    assert (local(start, "America/New_York"), local(end, "America/New_York")) == (
        "2026-12-01 08:00",
        "2026-12-01 21:00",
    )


@pytest.mark.parametrize(
    ("e164", "facts", "zone", "source"),
    [
        ("+16175550101", {}, "America/New_York", "number"),  # Boston's area code
        ("+18085550101", {}, "Pacific/Honolulu", "number"),
        ("+442079460000", {}, "Europe/London", "number"),
        ("+18005550101", {"timezone": "Asia/Kolkata"}, "Asia/Kolkata", "column"),
        ("+18005550101", {"zip_timezone": "America/Denver"}, "America/Denver", "zip"),
    ],
)
def test_a_numbers_own_zone_wins_over_the_jobs_default_zone(
    e164: str, facts: dict[str, str], zone: str, source: str
) -> None:
    """--default-timezone is for numbers nothing maps to a place (800s): never instead of what does."""
    review = CallingReview([CallingRules.parse()], default_zone="America/Los_Angeles")
    verdict = review.verdict(row(e164, facts=facts), utc("2026-12-01 20:00"))
    assert (verdict.timezone, verdict.timezone_source) == (zone, source)
    assert local(verdict.start_ts, zone)[11:] == "08:00"
    assert local(verdict.end_ts, zone)[11:] == "21:00"
