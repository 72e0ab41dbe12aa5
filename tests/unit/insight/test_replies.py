"""What each Insight reply means, from the API's own page (/work/shared/reference/insight-api.md and
insight-queue-outbound-call.txt): the documented codes, the documented reply body, and the design's
split between "never reached Insight" (safe to retry) and "may have queued a call"."""

from __future__ import annotations

import pytest
import requests

from batchqueue.insight.replies import ReplyKind, classify_exception, classify_response


@pytest.mark.parametrize(
    ("body", "call_id"),
    [
        ('{"success": true, "call_id": 7}', "7"),
        ('{"success": "true", "call_id": "123"}', "123"),  # documented: numbers may arrive as strings
        ('{"success": 1, "call_id": "abc-9"}', "abc-9"),
    ],
)
def test_a_call_id_in_a_2xx_reply_means_the_call_was_queued(body: str, call_id: str) -> None:
    reply = classify_response(200, body, {})
    assert reply.kind is ReplyKind.QUEUED
    assert reply.call_id == call_id


def test_success_false_without_a_call_id_is_a_refusal_that_keeps_insights_error() -> None:
    reply = classify_response(200, '{"success": false, "error": "invalid phone_number"}', {})
    assert reply.kind is ReplyKind.REJECTED
    assert reply.error == "invalid phone_number"


@pytest.mark.parametrize(
    "body",
    [
        "<html>gateway</html>",  # not JSON
        '{"success": true}',  # success, yet no call id to track
        '{"success": false, "call_id": 5}',  # contradicts itself
        '{"success": true, "call_id": true}',  # not an id
    ],
)
def test_a_2xx_reply_that_proves_nothing_is_ambiguous(body: str) -> None:
    assert classify_response(200, body, {}).kind is ReplyKind.AMBIGUOUS


def test_400_bad_data_fails_the_row_only() -> None:
    reply = classify_response(400, '{"success": false, "error": "max_attempts out of range"}', {})
    assert reply.kind is ReplyKind.REJECTED
    assert reply.error == "max_attempts out of range"


@pytest.mark.parametrize("status", [401, 403, 404, 405, 409, 415])
def test_the_documented_account_and_survey_errors_stop_the_batch(status: int) -> None:
    reply = classify_response(status, "", {})
    assert reply.kind is ReplyKind.FATAL
    assert reply.error
    assert str(status) in reply.error


def test_a_500_database_error_may_have_queued_the_call() -> None:
    assert classify_response(500, '{"success": false, "error": "database error"}', {}).kind is ReplyKind.AMBIGUOUS


def test_429_waits_as_long_as_retry_after_says() -> None:
    reply = classify_response(429, "", {"Retry-After": "30"})
    assert reply.kind is ReplyKind.RATE_LIMITED
    assert reply.retry_after == 30.0


def test_a_redirect_is_fatal_and_names_where_without_credentials() -> None:
    reply = classify_response(302, "", {"Location": "https://user:pw@elsewhere.example/api"})
    assert reply.kind is ReplyKind.FATAL
    assert reply.error is not None
    assert "pw@" not in reply.error


def test_a_failure_before_any_byte_left_is_not_sent() -> None:
    refused = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    assert classify_exception(refused, written=False).kind is ReplyKind.NOT_SENT


@pytest.mark.parametrize(
    "exc", [requests.exceptions.ReadTimeout("read timed out"), requests.exceptions.ConnectionError("reset by peer")]
)
def test_a_failure_after_the_request_was_written_may_have_queued_the_call(exc: BaseException) -> None:
    assert classify_exception(exc, written=True).kind is ReplyKind.AMBIGUOUS


def test_an_unusable_address_is_fatal_wherever_it_failed() -> None:
    for written in (False, True):
        assert classify_exception(requests.exceptions.InvalidURL("bad"), written=written).kind is ReplyKind.FATAL
