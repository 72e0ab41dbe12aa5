"""The state sets every module names (open, final, sent, problem, set aside at import) against the
lifecycle table and the meanings the design gives them (docs/ARCHITECTURE.md, "A row's life")."""

from __future__ import annotations

from batchqueue import lifecycle
from batchqueue.lifecycle import TRANSITIONS, Event, RowState, target

S = RowState


def test_open_and_final_split_every_state() -> None:
    assert set(RowState) == lifecycle.OPEN_STATES | lifecycle.FINAL_STATES
    assert not lifecycle.OPEN_STATES & lifecycle.FINAL_STATES


def test_a_run_has_work_only_on_pending_and_sending_rows() -> None:
    assert {S.PENDING, S.SENDING} == lifecycle.OPEN_STATES


def test_a_run_claims_rows_in_the_state_an_import_gives_a_valid_row() -> None:
    assert lifecycle.IMPORTED is S.PENDING
    assert TRANSITIONS[Event.CLAIMED].froms == {lifecycle.IMPORTED}


def test_a_request_left_for_queued_failed_and_uncertain_rows() -> None:
    assert {S.QUEUED, S.FAILED, S.UNCERTAIN} == lifecycle.SENT_STATES
    assert {S.QUEUED, S.UNCERTAIN} == lifecycle.MAY_HAVE_CALLED  # failed: refused, nobody called


def test_problem_rows_are_the_refused_the_uncertain_and_the_unreadable() -> None:
    assert {S.FAILED, S.UNCERTAIN, S.INVALID} == lifecycle.PROBLEM_STATES
    assert lifecycle.PROBLEM_STATES <= lifecycle.FINAL_STATES


def test_rows_set_aside_at_import_never_change() -> None:
    # "invalid, duplicate, filtered … are given at import and never change"
    assert {S.INVALID, S.DUPLICATE, S.FILTERED} == lifecycle.SET_ASIDE
    for event, transition in TRANSITIONS.items():
        assert not transition.froms & lifecycle.SET_ASIDE, event
        assert target(event) not in lifecycle.SET_ASIDE, event


def test_an_import_gives_only_initial_states_and_later_events_lead_only_into_pending_or_suppressed() -> None:
    assert {S.PENDING, S.SUPPRESSED} | lifecycle.SET_ASIDE == lifecycle.INITIAL_STATES
    reached = {target(event) for event in TRANSITIONS}
    assert reached & lifecycle.INITIAL_STATES == {S.PENDING, S.SUPPRESSED}
