"""Periods as people type them, checked against the calendar's own arithmetic (a day is 86,400 s,
a week 7 days)."""

from __future__ import annotations

import pytest

from batchqueue.errors import UsageError
from batchqueue.periods import OFF, cap_period, parse_count_per_period, parse_period, parse_period_or_off, period_text

MINUTE, HOUR, DAY = 60, 3600, 86_400
WEEK = 7 * DAY


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 7 * DAY), ("36h", 36 * HOUR), ("2w", 2 * WEEK), ("90m", 90 * MINUTE), (" 3 D ", 3 * DAY), ("1W", WEEK)],
)
def test_a_period_is_read_in_seconds(text: str, seconds: int) -> None:
    assert parse_period(text, "--recontact-after") == seconds


@pytest.mark.parametrize("text", ["", "7", "0d", "7 days", "1.5d", "-1d", "7s", "12345d", "d"])
def test_anything_else_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(UsageError, match="--recontact-after"):
        parse_period(text, "--recontact-after")


@pytest.mark.parametrize("text", ["0", "00", "0d", "off", "OFF", " off "])
def test_zero_or_off_turns_a_rule_off(text: str) -> None:
    assert parse_period_or_off(text, "--recontact-after") == OFF


@pytest.mark.parametrize(
    ("seconds", "text"), [(2 * WEEK, "2w"), (10 * DAY, "10d"), (36 * HOUR, "36h"), (90 * MINUTE, "90m"), (61, "61s")]
)
def test_a_period_is_written_in_its_largest_whole_unit(seconds: int, text: str) -> None:
    assert period_text(seconds) == text
    if not text.endswith("s"):
        assert parse_period(text, "x") == seconds


@pytest.mark.parametrize(("seconds", "text"), [(DAY, "24h"), (8 * HOUR, "8h"), (2 * DAY, "48h"), (3 * DAY, "3d")])
def test_a_caps_period_is_in_hours_up_to_two_days_as_statutes_write_it(seconds: int, text: str) -> None:
    assert cap_period(seconds) == text


def test_a_count_per_period() -> None:
    assert parse_count_per_period("3/7d", "--max-calls") == (3, 7 * DAY)
    assert parse_count_per_period("1/24h", "--max-calls") == (1, DAY)


@pytest.mark.parametrize("text", ["", "3", "0/7d", "/7d", "3/", "x/7d", "3/7"])
def test_a_bad_count_per_period_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(UsageError, match="--max-calls"):
        parse_count_per_period(text, "--max-calls")
