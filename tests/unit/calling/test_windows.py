"""The next calling window, against the calendar and the tz database's published rules: US daylight
saving time began on Sunday 8 March 2026 and ended on Sunday 1 November 2026 (the second Sunday of
March, the first of November: 15 U.S.C. 260a); New York is UTC-5 in winter, UTC-4 in summer, Chicago
one hour behind; Thanksgiving 2026 is Thursday 26 November (the fourth Thursday: 5 U.S.C. 6103)."""

from __future__ import annotations

import datetime as dt

import pytest

from batchqueue.calling.rules import CallingRules
from batchqueue.calling.windows import WindowFinder, intersect
from batchqueue.calling.zones import ContactZone

NEW_YORK = ContactZone(("America/New_York",), "number", "US")
#: An area code that spans two zones: both must allow the call.
SPLIT = ContactZone(("America/Chicago", "America/New_York"), "number", "US")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp())


def _finder(holidays: str | None = None) -> WindowFinder:
    return WindowFinder([CallingRules.parse(hours="09:00-20:00", days="mon-sat", holidays=holidays)])


def test_after_hours_the_next_window_is_the_next_allowed_morning() -> None:
    now = utc(2026, 3, 6, 2, 0)  # Thu 5 March, 21:00 EST
    assert _finder().next_window(NEW_YORK, now=now, own_start=None, own_end=None) == (
        utc(2026, 3, 6, 14, 0),  # Fri 09:00 EST
        utc(2026, 3, 7, 1, 0),  # Fri 20:00 EST
    )


def test_sunday_is_skipped_and_monday_keeps_its_local_hours_across_the_clock_change() -> None:
    now = utc(2026, 3, 8, 2, 0)  # Sat 7 March, 21:00 EST; the clocks go forward on Sunday
    assert _finder().next_window(NEW_YORK, now=now, own_start=None, own_end=None) == (
        utc(2026, 3, 9, 13, 0),  # Mon 09:00 EDT
        utc(2026, 3, 10, 0, 0),  # Mon 20:00 EDT
    )


def test_back_to_standard_time_in_november() -> None:
    now = utc(2026, 11, 2, 1, 30)  # Sun 1 November, 20:30 EST (the clocks went back that morning)
    assert _finder().next_window(NEW_YORK, now=now, own_start=None, own_end=None) == (
        utc(2026, 11, 2, 14, 0),  # Mon 09:00 EST
        utc(2026, 11, 3, 1, 0),
    )


def test_a_public_holiday_is_skipped_when_the_rules_name_the_country() -> None:
    now = utc(2026, 11, 26, 2, 0)  # Wed 25 November, 21:00 EST; Thanksgiving is tomorrow
    with_holidays = _finder(holidays="US").next_window(NEW_YORK, now=now, own_start=None, own_end=None)
    without = _finder().next_window(NEW_YORK, now=now, own_start=None, own_end=None)
    assert without == (utc(2026, 11, 26, 14, 0), utc(2026, 11, 27, 1, 0))
    assert with_holidays == (utc(2026, 11, 27, 14, 0), utc(2026, 11, 28, 1, 0))  # Friday


def test_inside_a_window_it_is_that_window_from_its_opening() -> None:
    now = utc(2026, 3, 10, 18, 0)  # Tue 14:00 EDT
    assert _finder().next_window(NEW_YORK, now=now, own_start=None, own_end=None) == (
        utc(2026, 3, 10, 13, 0),
        utc(2026, 3, 11, 0, 0),
    )


def test_two_zones_allow_only_the_hours_both_allow() -> None:
    now = utc(2026, 3, 10, 12, 0)  # Tue 08:00 EDT, 07:00 CDT
    assert _finder().next_window(SPLIT, now=now, own_start=None, own_end=None) == (
        utc(2026, 3, 10, 14, 0),  # 09:00 in Chicago (10:00 in New York)
        utc(2026, 3, 11, 0, 0),  # 20:00 in New York (19:00 in Chicago)
    )


def test_a_rows_own_start_and_end_narrow_the_window() -> None:
    now = utc(2026, 3, 10, 12, 0)
    finder = _finder()
    own = finder.next_window(NEW_YORK, now=now, own_start=utc(2026, 3, 10, 15, 30), own_end=utc(2026, 3, 10, 17, 0))
    assert own == (utc(2026, 3, 10, 15, 30), utc(2026, 3, 10, 17, 0))
    # its own end before the next opening: no window at all
    assert finder.next_window(NEW_YORK, now=now, own_start=None, own_end=utc(2026, 3, 10, 12, 59)) is None
    # its own end just as the window opens: no window either (not one of no length)
    assert finder.next_window(NEW_YORK, now=now, own_start=None, own_end=utc(2026, 3, 10, 13, 0)) is None


def test_run_rules_narrow_the_jobs() -> None:
    both = WindowFinder(
        [CallingRules.parse(hours="09:00-20:00", days="mon-sat"), CallingRules.parse(hours="12:00-14:00")]
    )
    now = utc(2026, 3, 10, 12, 0)
    assert both.next_window(NEW_YORK, now=now, own_start=None, own_end=None) == (
        utc(2026, 3, 10, 16, 0),
        utc(2026, 3, 10, 18, 0),
    )


@pytest.mark.parametrize(
    ("a", "b", "both"),
    [
        ([(0, 10)], [(5, 15)], [(5, 10)]),
        ([(0, 10), (20, 30)], [(5, 25)], [(5, 10), (20, 25)]),
        ([(0, 10)], [(10, 20)], []),  # touching is not overlapping
        ([], [(0, 1)], []),
    ],
)
def test_intervals_intersect(
    a: list[tuple[float, float]], b: list[tuple[float, float]], both: list[tuple[float, float]]
) -> None:
    assert intersect(a, b) == both
    assert intersect(b, a) == both


def test_a_contact_callable_around_the_clock_has_one_window_through_midnight() -> None:
    """With 00:00-24:00 every day, a row claimed at 23:59 local time has a window that goes on past
    midnight (the days are one span), not one that closes a minute later."""
    finder = WindowFinder([CallingRules.parse(hours="00:00-24:00", days="all")])
    now = utc(2026, 3, 11, 3, 59)  # Tue 10 March, 23:59 EDT
    window = finder.next_window(NEW_YORK, now=now, own_start=None, own_end=None)
    assert window is not None
    start, end = window
    assert start <= now
    assert end >= utc(2026, 3, 13, 4, 0)  # still open after Thursday's midnight


def test_a_row_whose_own_end_is_now_has_no_window_left() -> None:
    now = utc(2026, 3, 10, 18, 0)  # Tue 14:00 EDT, inside the day's window
    assert _finder().next_window(NEW_YORK, now=now, own_start=None, own_end=now) is None
    assert _finder().next_window(NEW_YORK, now=now, own_start=None, own_end=now + 60) == (
        utc(2026, 3, 10, 13, 0),
        now + 60,
    )
