"""The join of a number's survey visits to its calls (pure: no ledger, no HTTP).

The rules (issue 23): a visit belongs to a call of its number that was queued before the visit
started and whose window holds the visit's start; of several such calls (the same number in two
waves), the closest one. A visit that matches two calls equally, or a call with two visits, is
never joined silently: it is reported. Times below are unix seconds; ``SLACK`` is the clock
tolerance between Insight and this machine.
"""

from __future__ import annotations

from batchqueue.answers.join import Call, Seen, Verdict, join_number

SLACK = 60.0


def call(row_id: int, sent_at: float, *, job_id: int = 1, start: float | None = None, end: float | None = None) -> Call:
    return Call(row_id, job_id, row_id + 1, sent_at, max(sent_at, start or 0.0), end)


def verdicts(visits: list[Seen], calls: list[Call]) -> dict[int, tuple[Verdict, tuple[int, ...]]]:
    return {d.visit_id: (d.verdict, tuple(c.row_id for c in d.calls)) for d in join_number(visits, calls, SLACK)}


def test_a_visit_after_its_call_was_queued_is_joined_to_it() -> None:
    assert verdicts([Seen(10, 1_100.0)], [call(1, 1_000.0)]) == {10: (Verdict.JOINED, (1,))}


def test_a_visit_before_its_call_was_queued_is_not_joined() -> None:
    # The only call of the number was queued at 1,000: a visit at 900 cannot be its answer.
    assert verdicts([Seen(10, 900.0)], [call(1, 1_000.0)]) == {10: (Verdict.BEFORE_CALL, ())}


def test_a_clock_a_little_behind_is_tolerated() -> None:
    assert verdicts([Seen(10, 1_000.0 - SLACK + 1)], [call(1, 1_000.0)]) == {10: (Verdict.JOINED, (1,))}
    assert verdicts([Seen(10, 1_000.0 - SLACK - 1)], [call(1, 1_000.0)]) == {10: (Verdict.BEFORE_CALL, ())}


def test_the_same_number_in_two_waves_each_visit_goes_to_the_closest_earlier_call() -> None:
    first, second = call(1, 1_000.0, job_id=1), call(2, 50_000.0, job_id=2)
    found = verdicts([Seen(10, 1_200.0), Seen(11, 50_300.0)], [first, second])
    assert found == {10: (Verdict.JOINED, (1,)), 11: (Verdict.JOINED, (2,))}


def test_the_order_calls_and_visits_are_given_in_does_not_matter() -> None:
    first, second = call(1, 1_000.0, job_id=1), call(2, 50_000.0, job_id=2)
    found = verdicts([Seen(11, 50_300.0), Seen(10, 1_200.0)], [second, first])
    assert found == {10: (Verdict.JOINED, (1,)), 11: (Verdict.JOINED, (2,))}


def test_a_visit_matching_two_calls_equally_is_reported_not_joined() -> None:
    # Two rows of the same number queued within the clock tolerance: nothing tells them apart.
    found = verdicts([Seen(10, 2_000.0)], [call(1, 1_000.0), call(2, 1_010.0)])
    assert found == {10: (Verdict.TWO_CALLS, (1, 2))}


def test_a_call_with_two_visits_is_reported_and_neither_is_joined() -> None:
    found = verdicts([Seen(10, 1_100.0), Seen(11, 1_200.0)], [call(1, 1_000.0)])
    assert found == {10: (Verdict.TWO_VISITS, (1,)), 11: (Verdict.TWO_VISITS, (1,))}


def test_a_visit_after_its_calls_window_ended_is_not_joined() -> None:
    found = verdicts([Seen(10, 9_000.0)], [call(1, 1_000.0, end=5_000.0)])
    assert found == {10: (Verdict.OUTSIDE_WINDOW, ())}


def test_a_visit_before_the_rows_own_start_is_outside_its_window() -> None:
    # Queued at 1,000 to be called from 5,000 on: a visit at 2,000 is not this call's.
    found = verdicts([Seen(10, 2_000.0)], [call(1, 1_000.0, start=5_000.0)])
    assert found == {10: (Verdict.OUTSIDE_WINDOW, ())}


def test_an_earlier_call_whose_window_ended_does_not_compete() -> None:
    # Wave 1 (window 1,000-2,000) and wave 2 (queued 50,000): a visit at 1,500 is wave 1's even
    # though wave 2 exists, and one at 50,100 is wave 2's.
    first, second = call(1, 1_000.0, job_id=1, end=2_000.0), call(2, 50_000.0, job_id=2)
    found = verdicts([Seen(10, 1_500.0), Seen(11, 50_100.0)], [first, second])
    assert found == {10: (Verdict.JOINED, (1,)), 11: (Verdict.JOINED, (2,))}


def test_a_visit_between_a_closed_window_and_the_next_call_is_outside_both() -> None:
    first, second = call(1, 1_000.0, end=2_000.0), call(2, 50_000.0)
    assert verdicts([Seen(10, 20_000.0)], [first, second]) == {10: (Verdict.OUTSIDE_WINDOW, ())}


def test_the_closest_call_wins_even_when_an_older_window_still_holds_the_visit() -> None:
    # Neither call has an end: both windows hold the visit; the later call is the closer one.
    found = verdicts([Seen(10, 9_000.0)], [call(1, 1_000.0), call(2, 8_000.0)])
    assert found == {10: (Verdict.JOINED, (2,))}


def test_two_visits_of_two_calls_of_one_number_are_each_joined() -> None:
    found = verdicts([Seen(10, 1_100.0), Seen(11, 8_100.0)], [call(1, 1_000.0), call(2, 8_000.0)])
    assert found == {10: (Verdict.JOINED, (1,)), 11: (Verdict.JOINED, (2,))}


def test_a_tie_and_a_second_visit_together_report_both() -> None:
    # A visit tied between calls 1 and 2, and a visit clearly of call 2: call 2 may have two
    # visits, so neither visit is joined silently.
    found = verdicts([Seen(10, 2_000.0), Seen(11, 3_000.0)], [call(1, 1_000.0), call(2, 1_010.0)])
    assert found[10] == (Verdict.TWO_CALLS, (1, 2))
    assert found[11][0] is not Verdict.JOINED
