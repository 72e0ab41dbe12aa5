"""Each calling rule that keeps a row pending says which it is (``calling/review``), at fixed
moments (never the wall clock).

Truth from outside the code: Christmas Day, 25 December, is a US federal holiday (5 U.S.C. 6103(a));
25 December 2026 is a Friday and 5 December 2026 a Saturday (the Gregorian calendar); Chicago keeps
UTC-6 in December (Central Standard Time); +800 numbers are the ITU's international freephone
(UIFN), of no country.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from batchqueue.calling.review import CallingReview, then
from batchqueue.calling.rules import CallingRules
from batchqueue.holds import FOREVER, HoldReason
from batchqueue.ledger import ClaimContext, Claimed
from batchqueue.ledger.sending import Verdict

CHICAGO = {"timezone": "America/Chicago"}


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def row(e164: str = "+13125550100", *, facts: dict[str, Any] | None = None, start: int | None = None,
        end: int | None = None) -> Claimed:  # fmt: skip
    where = CHICAGO if facts is None else facts
    return Claimed(1, 2, "tel:" + e164, e164, start, end, None, None, None, None, [], 1, where)


def held(rules: CallingRules, now: str, claimed: Claimed | None = None) -> Verdict:
    verdict = CallingReview([rules], hold_until_window=True).verdict(claimed or row(), utc(now))
    assert not verdict.send
    return verdict


@pytest.mark.parametrize(
    ("rules", "now", "reason", "said"),
    [
        # 06:00 in Chicago: before the day's hours.
        (CallingRules.parse(), "2026-12-01 12:00", HoldReason.CALLING_WINDOW, "opens 2026-12-01 08:00 America/Chicago"),
        # 09:00 on Christmas Day in Chicago: inside the hours, on a federal holiday (--holidays US is
        # each contact's own state's calendar: this Chicago contact's is Illinois's).
        (
            CallingRules.parse(holidays="US"),
            "2026-12-25 15:00",
            HoldReason.HOLIDAY,
            "Christmas Day (US-IL), 2026-12-25; opens 2026-12-26 08:00 America/Chicago",
        ),
        # 09:00 on a Saturday, weekdays only: Monday.
        (
            CallingRules.parse(days="mon-fri"),
            "2026-12-05 15:00",
            HoldReason.CALLING_DAY,
            "Saturday 2026-12-05; opens 2026-12-07 08:00 America/Chicago",
        ),
        (
            CallingRules.parse(blackout=("2026-12-24..2026-12-26",)),
            "2026-12-24 15:00",
            HoldReason.BLACKOUT,
            "2026-12-24..2026-12-26; opens 2026-12-27 08:00 America/Chicago",
        ),
    ],
)
def test_a_row_held_by_the_calling_rules_says_which_rule(
    rules: CallingRules, now: str, reason: HoldReason, said: str
) -> None:
    verdict = held(rules, now)
    assert (verdict.hold, verdict.reason) == (reason, said)


def test_a_row_waiting_for_its_own_start_says_so() -> None:
    verdict = held(CallingRules.parse(), "2026-12-01 16:00", row(start=int(utc("2026-12-02 16:00"))))
    assert (verdict.hold, verdict.reason) == (HoldReason.OWN_START, "starts 2026-12-02 10:00 America/Chicago")
    assert verdict.hold_until == utc("2026-12-02 16:00")


def test_rows_no_time_can_be_found_for_say_why_and_are_held_for_ever() -> None:
    ended = held(CallingRules.parse(), "2026-12-01 12:00", row(end=int(utc("2026-12-01 13:00"))))
    assert (ended.hold, ended.hold_until) == (HoldReason.NO_CALLING_TIME, FOREVER)
    nowhere = held(CallingRules.parse(), "2026-12-01 12:00", row("+80012345678", facts={}))
    assert (nowhere.hold, nowhere.hold_until) == (HoldReason.NO_ZONE, FOREVER)


def test_two_rules_whose_windows_do_not_meet_say_so() -> None:
    def evening(rows: list[Claimed], ctx: ClaimContext) -> list[Verdict]:
        return [Verdict(start_ts=int(utc("2026-12-01 23:00")), end_ts=int(utc("2026-12-02 01:00"))) for _ in rows]

    morning = CallingReview([CallingRules.parse(hours="08:00-10:00")])  # 14:00-16:00 UTC in Chicago
    verdict = then(morning, evening)([row()], ClaimContext(utc("2026-12-01 12:00"), None, 1))  # type: ignore[arg-type]
    assert [v.hold for v in verdict] == [HoldReason.RULES_DISAGREE]


def test_a_rule_that_gives_no_reason_is_the_runs_own() -> None:
    assert Verdict(send=False).hold is None  # the ledger writes SEND_TIME_RULE (contract tests)
