"""What a reported outcome (a callback, or a polled status) does to its row: ``callback_decision``
checked against Insight's documentation and the lifecycle table.

From the documentation (/work/shared/reference/insight-api.md): a call's final outcomes are
``completed``, ``canceled``, ``failed`` and ``rejected``; ``queued``, ``dialing`` and ``connected``
come on the way there; a callback is sent only for a call Insight queued, so any report about a
row's call proves that call was queued, whatever the row's own reply said.
"""

from __future__ import annotations

import pytest

from batchqueue.lifecycle import TRANSITIONS, CallbackVerdict, Event, RowState, after, callback_decision, proves_queued

FINAL = ["completed", "canceled", "failed", "rejected"]
ON_THE_WAY = ["queued", "dialing", "connected"]
#: Rows whose own reply left them elsewhere though the call may have been (or was) queued.
NOT_YET_QUEUED = [RowState.UNCERTAIN, RowState.FAILED, RowState.PENDING, RowState.CANCELED]


@pytest.mark.parametrize("state", NOT_YET_QUEUED)
def test_a_final_callback_for_a_row_not_queued_records_it_and_proves_the_call(state: RowState) -> None:
    decision = callback_decision(state, None, "completed")
    assert decision.verdict is CallbackVerdict.RECORDED
    assert decision.event is Event.PROVEN
    assert after(Event.PROVEN, state) is RowState.QUEUED


@pytest.mark.parametrize("state", NOT_YET_QUEUED)
def test_an_outcome_that_is_no_news_still_proves_the_call(state: RowState) -> None:
    decision = callback_decision(state, "completed", "completed")
    assert (decision.verdict, decision.event, decision.takes) == (CallbackVerdict.PROVEN, Event.PROVEN, False)


@pytest.mark.parametrize("new", FINAL + ON_THE_WAY)
def test_the_first_outcome_of_a_queued_row_is_recorded_and_the_row_stays(new: str) -> None:
    decision = callback_decision(RowState.QUEUED, None, new)
    assert (decision.verdict, decision.event, decision.takes) == (CallbackVerdict.RECORDED, None, True)


@pytest.mark.parametrize("first", FINAL)
@pytest.mark.parametrize("later", FINAL)
def test_the_first_final_outcome_stands(first: str, later: str) -> None:
    decision = callback_decision(RowState.QUEUED, first, later)
    expected = CallbackVerdict.UNCHANGED if later == first else CallbackVerdict.CONFLICT
    assert (decision.verdict, decision.event, decision.takes) == (expected, None, False)


@pytest.mark.parametrize("final", FINAL)
@pytest.mark.parametrize("on_the_way", ON_THE_WAY)
def test_a_call_on_its_way_moves_forward_never_back(final: str, on_the_way: str) -> None:
    assert callback_decision(RowState.QUEUED, on_the_way, final).verdict is CallbackVerdict.RECORDED
    assert callback_decision(RowState.QUEUED, final, on_the_way).verdict is CallbackVerdict.UNCHANGED
    assert callback_decision(RowState.QUEUED, on_the_way, on_the_way).verdict is CallbackVerdict.UNCHANGED


def test_a_conflict_moves_no_row_even_one_not_yet_queued() -> None:
    decision = callback_decision(RowState.UNCERTAIN, "completed", "failed")
    assert (decision.verdict, decision.event) == (CallbackVerdict.CONFLICT, None)


@pytest.mark.parametrize("state", list(RowState))
def test_a_report_moves_a_row_exactly_when_the_table_lets_proven_move_it(state: RowState) -> None:
    moves = state in TRANSITIONS[Event.PROVEN].froms
    assert (proves_queued(state) is Event.PROVEN) is moves
    for status, new in [(None, "completed"), ("queued", "dialing"), ("completed", "completed")]:
        decision = callback_decision(state, status, new)
        assert (decision.event is Event.PROVEN) is moves, (state, status, new)
        if not decision.takes:
            assert decision.verdict is (CallbackVerdict.PROVEN if moves else CallbackVerdict.UNCHANGED)


@pytest.mark.parametrize("state", [RowState.INVALID, RowState.DUPLICATE, RowState.FILTERED, RowState.SUPPRESSED])
def test_no_report_moves_a_row_that_was_never_sent(state: RowState) -> None:
    # invalid, duplicate, filtered and suppressed rows were never sent: no call of theirs exists
    assert proves_queued(state) is None
