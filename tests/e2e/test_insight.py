"""Every requests exception and every documented status code mapped to its reply class."""

from __future__ import annotations

import inspect
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from batchqueue.insight.client import InsightClient
from batchqueue.insight.replies import ReplyKind, classify_exception, classify_response
from batchqueue.sandbox import Faults, Sandbox, SandboxConfig
from batchqueue.settings import Secret

H = CaseInsensitiveDict[str]


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, '{"success": true, "call_id": 12}', ReplyKind.QUEUED),
        (200, '{"success": "true", "call_id": "12"}', ReplyKind.QUEUED),
        (200, '{"success": false, "error": "bad number"}', ReplyKind.REJECTED),
        (200, '{"success": true}', ReplyKind.AMBIGUOUS),
        (200, "<html>oops</html>", ReplyKind.AMBIGUOUS),
        (200, "", ReplyKind.AMBIGUOUS),
        (400, '{"success": false, "error": "phone_number invalid"}', ReplyKind.REJECTED),
        (401, "", ReplyKind.FATAL),
        (403, "", ReplyKind.FATAL),
        (404, "", ReplyKind.FATAL),
        (405, "", ReplyKind.FATAL),
        (409, '{"success": false, "error": "response cap"}', ReplyKind.FATAL),
        (415, "", ReplyKind.FATAL),
        (429, "", ReplyKind.RATE_LIMITED),
        (500, '{"success": false, "error": "database error"}', ReplyKind.AMBIGUOUS),
        (502, "", ReplyKind.AMBIGUOUS),
        (503, "", ReplyKind.AMBIGUOUS),
        (504, "", ReplyKind.AMBIGUOUS),
        (408, "", ReplyKind.AMBIGUOUS),
        (301, "", ReplyKind.FATAL),
        (422, "", ReplyKind.REJECTED),
    ],
)
def test_every_documented_status_is_classified(status: int, body: str, kind: ReplyKind) -> None:
    reply = classify_response(status, body, H())
    assert reply.kind is kind
    assert reply.status == status


def test_api_error_text_and_retry_after_are_kept() -> None:
    assert classify_response(400, '{"success": false, "error": "bad phone"}', H()).error == "bad phone"
    assert classify_response(429, "", H({"Retry-After": "7"})).retry_after == 7.0
    assert classify_response(200, '{"success": true, "call_id": 5}', H()).call_id == "5"


def _requests_exception_classes() -> Iterator[type[BaseException]]:
    for _, obj in inspect.getmembers(requests.exceptions, inspect.isclass):
        if issubclass(obj, BaseException) and obj.__module__ == "requests.exceptions" and not issubclass(obj, Warning):
            yield obj


#: Errors of the request itself, raised before any connection is used: a configuration problem.
UNUSABLE = {"InvalidURL", "MissingSchema", "InvalidSchema", "InvalidHeader", "URLRequired", "InvalidProxyURL"}


@pytest.mark.parametrize("written", [False, True])
def test_every_requests_exception_is_classified_by_where_it_happened(written: bool) -> None:
    """Not sent before the request bytes left, ambiguous after: whatever the exception's class."""
    seen = set()
    for cls in _requests_exception_classes():
        try:
            exc = cls("x")
        except TypeError:
            exc = cls("x", "doc", 0)  # JSONDecodeError's signature
        reply = classify_exception(exc, written=written)
        if cls.__name__ in UNUSABLE:
            expected = ReplyKind.FATAL
        else:
            expected = ReplyKind.AMBIGUOUS if written else ReplyKind.NOT_SENT
        assert reply.kind is expected, cls.__name__
        seen.add(cls.__name__)
    assert {"ConnectTimeout", "ReadTimeout", "ConnectionError", "SSLError"} <= seen
    # The same TLS error means "never sent" during the handshake and "may have queued" afterwards.
    tls = requests.exceptions.SSLError("bad record mac")
    assert classify_exception(tls, written=False).kind is ReplyKind.NOT_SENT
    assert classify_exception(tls, written=True).kind is ReplyKind.AMBIGUOUS
    other = classify_exception(OSError("anything"), written=written).kind
    assert other is (ReplyKind.AMBIGUOUS if written else ReplyKind.NOT_SENT)


@pytest.mark.parametrize(
    ("body", "kind", "call_id"),
    [
        ('{"success": 1, "call_id": 77}', ReplyKind.QUEUED, "77"),
        ('{"success": "1", "call_id": "a-77"}', ReplyKind.QUEUED, "a-77"),
        ('{"call_id": 77}', ReplyKind.QUEUED, "77"),
        ('{"success": "TRUE", "call_id": 77}', ReplyKind.QUEUED, "77"),
        ('{"success": false, "call_id": 77}', ReplyKind.AMBIGUOUS, None),
        ('{"success": 0}', ReplyKind.AMBIGUOUS, None),
        ('{"success": "no"}', ReplyKind.AMBIGUOUS, None),
        ('{"success": "False", "error": "bad"}', ReplyKind.REJECTED, None),
        ('{"success": true, "call_id": {"id": 1}}', ReplyKind.AMBIGUOUS, None),
        ('{"success": true, "call_id": true}', ReplyKind.AMBIGUOUS, None),
        ('{"success": true, "call_id": ""}', ReplyKind.AMBIGUOUS, None),
        ("[" * 50000, ReplyKind.AMBIGUOUS, None),
        ('{"success": true, "call_id": "' + "9" * 300 + '"}', ReplyKind.AMBIGUOUS, None),
    ],
)
def test_a_2xx_reply_is_read_for_what_it_proves(body: str, kind: ReplyKind, call_id: str | None) -> None:
    reply = classify_response(200, body, H())
    assert reply.kind is kind
    assert reply.call_id == call_id


def test_server_text_loses_terminal_escapes() -> None:
    body = '{"success": false, "error": "\\u001b]0;owned\\u0007\\u001b[31mred\\u001b[0m\\r\\nnext"}'
    error = classify_response(400, body, H()).error or ""
    assert error == "red  next"
    assert not any(ord(ch) < 32 for ch in error)


def _client(url: str, key: str = "sandbox-key", read_timeout: float = 5.0) -> InsightClient:
    return InsightClient(url, "demo@example.com", Secret(key), read_timeout=read_timeout)


FORM = [("phone_number", "tel:+16175550101")]


def test_real_replies_over_http() -> None:
    with Sandbox() as sb:
        ok = _client(sb.api_url).queue_call("4242", "1", FORM)
        assert ok.kind is ReplyKind.QUEUED
        assert ok.call_id is not None
        assert _client(sb.api_url, key="nope").queue_call("4242", "1", FORM).kind is ReplyKind.FATAL
        assert _client(sb.api_url).queue_call("4242", "2", FORM).status == 409
        assert _client(sb.api_url).queue_call("1", "1", FORM).status == 404
        bad = _client(sb.api_url).queue_call("4242", "1", [("phone_number", "12")])
        assert bad.kind is ReplyKind.REJECTED
        assert "not a valid number" in (bad.error or "")


def test_nothing_listening_is_not_sent() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reply = _client(f"http://127.0.0.1:{port}/api").queue_call("4242", "1", FORM)
    assert reply.kind is ReplyKind.NOT_SENT


def test_dropped_and_slow_replies_are_ambiguous() -> None:
    with Sandbox(SandboxConfig(faults=Faults(p_drop_after=1.0))) as sb:
        assert _client(sb.api_url).queue_call("4242", "1", FORM).kind is ReplyKind.AMBIGUOUS
        assert len(sb.app.store.dump()) == 1  # ...and it was in fact queued
    with Sandbox(SandboxConfig(faults=Faults(p_timeout_after=1.0, slow_reply=2.0))) as sb:
        reply = _client(sb.api_url, read_timeout=0.3).queue_call("4242", "1", FORM)
        assert reply.kind is ReplyKind.AMBIGUOUS
        assert "timeout" in (reply.error or "")


def test_the_key_never_appears_in_errors() -> None:
    with Sandbox(SandboxConfig(faults=Faults(p_drop_after=1.0))) as sb:
        client = _client(sb.api_url, key="s3cr3t-key-value")
        replies = [client.queue_call("4242", "1", FORM), client.queue_call("9", "1", FORM)]
    assert all("s3cr3t" not in (r.error or "") for r in replies)
    assert "s3cr3t" not in repr(Secret("s3cr3t"))


def test_overall_deadline_bounds_a_dripping_reply() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def drip() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        try:
            for _ in range(40):
                conn.sendall(b"x" * 20)
                threading.Event().wait(0.1)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    client = InsightClient(f"http://127.0.0.1:{port}/api", "u", Secret("k"), read_timeout=1.0, deadline=0.5)
    reply = client.queue_call("4242", "1", FORM)
    server.close()
    assert reply.kind is ReplyKind.AMBIGUOUS
    assert reply.finished - reply.started < 2.0


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    import email.utils
    import time as clock

    soon = email.utils.formatdate(clock.time() + 30, usegmt=True)
    past = email.utils.formatdate(clock.time() - 30, usegmt=True)
    assert classify_response(429, "", H({"Retry-After": "7"})).retry_after == 7.0
    assert 25 <= (classify_response(429, "", H({"Retry-After": soon})).retry_after or 0) <= 31
    assert classify_response(429, "", H({"Retry-After": past})).retry_after == 0.0
    assert classify_response(429, "", H({"Retry-After": "whenever"})).retry_after is None
    assert classify_response(429, "", H()).retry_after is None


def test_call_ids_up_to_255_characters_are_real() -> None:
    assert classify_response(200, '{"call_id": "' + "7" * 255 + '"}', H()).call_id == "7" * 255
    assert classify_response(200, '{"call_id": "' + "7" * 256 + '"}', H()).kind is ReplyKind.AMBIGUOUS


def test_an_ambiguous_2xx_says_what_was_missing() -> None:
    assert classify_response(200, '{"success": "true"}', H()).error == "success without a usable call_id"
    assert classify_response(200, '{"success": 1}', H()).error == "success without a usable call_id"
    assert classify_response(200, '{"other": 1}', H()).error == "a reply without success or call_id"
    assert classify_response(200, '{"success": " FALSE "}', H()).kind is ReplyKind.REJECTED


def test_exception_errors_name_the_cause_innermost_first() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = _client(f"http://127.0.0.1:{port}/api").queue_call("4242", "1", FORM)
    assert refused.error == (
        f"cannot connect: 127.0.0.1:{port}: Failed to establish a new connection: [Errno 111] Connection refused"
    )
    tls = requests.exceptions.SSLError("certificate verify failed")
    assert classify_exception(tls, written=False).error == "TLS handshake failed: certificate verify failed"
    assert classify_exception(ValueError("bad header"), written=False).error == (
        "failed before sending (ValueError): bad header"
    )
    broken = classify_exception(requests.exceptions.ChunkedEncodingError("Connection broken"), written=True)
    assert broken.error == "connection broken after sending (ChunkedEncodingError): Connection broken"
    assert classify_exception(requests.exceptions.ReadTimeout("x"), written=True).error == (
        "no reply before the read timeout"
    )
    unusable = classify_exception(requests.exceptions.InvalidURL("x"), written=False)
    assert unusable.error == "InvalidURL: the API address is unusable (check BATCHQUEUE_BASE_URL)"
    long = classify_exception(OSError("x" * 1000), written=False).error or ""
    assert len(long) <= len("cannot connect: ") + 300
