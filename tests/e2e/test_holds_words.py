"""The words for held rows (``batchqueue.holds``): pure, no ledger."""

from __future__ import annotations

import pytest

from batchqueue.holds import FOREVER, PHRASES, HeldGroup, HoldReason, Holds, hold_text


def test_every_reason_has_its_words_for_one_row_and_for_several() -> None:
    # An open vocabulary: a reason added without its words would be said as nothing.
    assert set(PHRASES) == set(HoldReason)
    for reason in HoldReason:
        assert reason.one
        assert reason.many


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("state_cap", HoldReason.STATE_CAP),
        (None, HoldReason.UNKNOWN),
        ("", HoldReason.UNKNOWN),
        ("from_a_newer_version", HoldReason.UNKNOWN),
    ],
)
def test_a_stored_reason_is_read_back_and_one_not_known_is_unknown(stored: str | None, reason: HoldReason) -> None:
    assert HoldReason.of(stored) is reason


def test_a_held_row_is_said_with_its_particulars() -> None:
    assert hold_text("calling_window", "opens 2026-12-04 08:00 America/Chicago") == (
        "outside its calling window: opens 2026-12-04 08:00 America/Chicago"
    )
    assert hold_text("no_zone", None) == "with no time zone known"


def test_a_jobs_holds_are_said_most_rows_first_each_with_its_first_row() -> None:
    holds = Holds.of(
        [
            ("state_cap", 3, 2000.0, "FL allows 3 calls in 1d"),
            ("calling_window", 9, 1000.0, "opens 2026-12-04 08:00 America/Chicago"),
            ("no_zone", 1, FOREVER, "nothing maps this number to a place"),
        ]
    )
    assert holds.describe() == (
        "13 held: 9 outside their calling window (next: opens 2026-12-04 08:00 America/Chicago), "
        "3 at a state's cap on calls (next: FL allows 3 calls in 1d), "
        "1 with no time zone known (next: nothing maps this number to a place)"
    )
    assert (holds.rows, holds.next_at) == (13, 1000.0)
    assert holds.groups[2].next_at is None  # held FOREVER: no time is known
    assert Holds().describe() == ""
    assert Holds().next_at is None


def test_reasons_read_as_unknown_are_one_group_named_by_its_earliest_row() -> None:
    holds = Holds.of([(None, 2, 500.0, "later"), ("from_a_newer_version", 1, 100.0, "sooner")])
    assert holds.groups == (HeldGroup(HoldReason.UNKNOWN, 3, 100.0, "sooner"),)
    again = Holds.of([("from_a_newer_version", 1, 100.0, "sooner"), (None, 2, FOREVER, "never")])
    assert again.groups == (HeldGroup(HoldReason.UNKNOWN, 3, 100.0, "sooner"),)
