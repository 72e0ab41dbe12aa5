"""What an Insight reply does to its row: ``event_for`` checked against Insight's own documentation
(/work/shared/reference: the queue endpoint's response codes and reply body) and the lifecycle table.

Each case is a reply as Insight sends it (or a failure where the documentation puts it), classified
by the one classification (``insight/replies``), and the row state the documentation implies: a
call id means a call was queued; 400 means the data was refused and nobody is called; the
account-, survey- and format-level codes stop the batch with the row not taken; a 5xx or a lost
reply may or may not have queued a call ("No idempotency key exists").
"""

from __future__ import annotations

import pytest
import requests

from batchqueue.insight.replies import Reply, ReplyKind, classify_exception, classify_response
from batchqueue.lifecycle import Event, RowState, after
from batchqueue.sending.reply_events import AmbiguousPolicy, OnAmbiguous, event_for

HOLD = AmbiguousPolicy(OnAmbiguous.HOLD, resend_limit=3)
RESEND = AmbiguousPolicy(OnAmbiguous.RESEND, resend_limit=3)
NO_HEADERS: dict[str, str] = {}


def _row_after(reply: Reply | None, policy: AmbiguousPolicy = HOLD, attempts: int = 1) -> RowState | None:
    """The state a row that was ``sending`` is in once ``reply`` came back."""
    return after(event_for(reply, policy, attempts), RowState.SENDING)


@pytest.mark.parametrize(
    ("status", "body", "becomes"),
    [
        (200, '{"success": true, "call_id": 7}', RowState.QUEUED),  # the call_id of a queued call
        (200, '{"success": "true", "call_id": "7"}', RowState.QUEUED),  # numbers and flags as strings
        (200, '{"success": false, "error": "bad number"}', RowState.FAILED),  # refused, with its error
        (400, '{"success": false, "error": "phone_number invalid"}', RowState.FAILED),  # improperly formatted
        (401, "", RowState.PENDING),  # credentials: the batch stops, this row was not taken
        (403, "", RowState.PENDING),  # no permission on the survey
        (404, "", RowState.PENDING),  # deployment, user or survey not found
        (405, "", RowState.PENDING),  # only POST allowed
        (409, "", RowState.PENDING),  # survey deleted, deployment expired, response cap reached
        (415, "", RowState.PENDING),  # Content-Type refused
        (429, "", RowState.PENDING),  # too many requests (after every retry): not taken
        (500, '{"success": false, "error": "database error"}', RowState.UNCERTAIN),  # may have queued it
        (503, "", RowState.UNCERTAIN),
        (200, "<html>oops</html>", RowState.UNCERTAIN),  # a 200 nobody can read: may have queued it
        (200, '{"success": true}', RowState.UNCERTAIN),  # success without a call id to track
    ],
)
def test_each_documented_reply_leaves_its_row_where_the_documentation_puts_it(
    status: int, body: str, becomes: RowState
) -> None:
    assert _row_after(classify_response(status, body, NO_HEADERS)) is becomes


def test_a_request_that_never_reached_insight_goes_back_to_pending() -> None:
    refused = classify_exception(requests.exceptions.ConnectionError("connection refused"), written=False)
    assert _row_after(refused) is RowState.PENDING


def test_a_reply_lost_after_the_request_was_written_is_uncertain_unless_the_run_resends() -> None:
    lost = classify_exception(requests.exceptions.ReadTimeout("read timed out"), written=True)
    assert _row_after(lost, HOLD) is RowState.UNCERTAIN
    assert _row_after(lost, RESEND, attempts=1) is RowState.PENDING


def test_resending_stops_at_the_limit_counting_the_attempt_just_made() -> None:
    ambiguous = classify_response(502, "", NO_HEADERS)
    # --on-ambiguous resend: at most 3 attempts in all (README), then the row is held uncertain
    assert [_row_after(ambiguous, RESEND, attempts=n) for n in (1, 2, 3, 4)] == [
        RowState.PENDING,
        RowState.PENDING,
        RowState.UNCERTAIN,
        RowState.UNCERTAIN,
    ]


def test_a_row_whose_request_never_left_is_released() -> None:
    assert event_for(None, HOLD) is Event.RELEASED
    assert _row_after(None) is RowState.PENDING


@pytest.mark.parametrize("kind", list(ReplyKind))
@pytest.mark.parametrize("policy", [HOLD, RESEND], ids=["hold", "resend"])
def test_every_reply_class_has_an_event_the_table_allows_from_sending(kind: ReplyKind, policy: AmbiguousPolicy) -> None:
    assert _row_after(Reply(kind), policy) is not None


def test_only_a_queued_reply_makes_the_row_queued() -> None:
    queued = {kind for kind in ReplyKind if _row_after(Reply(kind, call_id="1")) is RowState.QUEUED}
    assert queued == {ReplyKind.QUEUED}


def test_a_policy_is_hold_or_resend() -> None:
    assert AmbiguousPolicy.of("resend", 3) == RESEND
    with pytest.raises(ValueError, match="sometimes"):
        AmbiguousPolicy.of("sometimes", 3)
