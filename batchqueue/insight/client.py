"""The only module that speaks HTTP to Insight. Every outcome is mapped to a :class:`Reply` here.

Usage::

    client = InsightClient(settings.base_url, settings.user, settings.api_key, pool_size=8)
    reply = client.queue_call("123", "1", [("phone_number", "tel:+16175551234")])
    if reply.kind is ReplyKind.QUEUED: ...

The split mirrors DESIGN.md's table: what *never reached* the server (safe to retry) is kept apart
from what *may have* queued a call (never retried automatically).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from batchqueue import __version__
from batchqueue.errors import UsageError
from batchqueue.settings import Secret, redact_url
from batchqueue.untrusted import parse_json, printable

BATCH_FATAL_STATUSES = frozenset({401, 403, 404, 405, 409, 415})
STATUS_MEANING = {
    401: "the credentials are invalid or the account is inactive (check BATCHQUEUE_USER and BATCHQUEUE_API_KEY)",
    403: "this account has no permission on that survey",
    404: "the survey, deployment or user was not found (check --survey and --instance)",
    405: "the method was refused",
    409: "the survey is deleted, its deployment expired, the instance is not current, or the response cap is reached",
    415: "the Content-Type was refused",
}


class ReplyKind(StrEnum):
    """What one request's outcome means for its row (DESIGN.md, "What each reply means")."""

    QUEUED = "queued"  # 200 with success and a call_id
    REJECTED = "rejected"  # 400, or 200 with success false: the row failed, nobody is called
    NOT_SENT = "not_sent"  # the request never reached the server: safe to retry
    RATE_LIMITED = "rate_limited"  # 429: not accepted; wait and retry
    FATAL = "fatal"  # 401 403 404 405 409 415 (or a redirect): stop the batch; the row was not accepted
    AMBIGUOUS = "ambiguous"  # 5xx, read timeout, reset after sending, unparseable 200: may have queued


@dataclass(frozen=True)
class Reply:
    """One request's outcome, already classified. ``error`` never contains credentials."""

    kind: ReplyKind
    status: int | None = None
    call_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    started: float = field(default=0.0, compare=False)
    finished: float = field(default=0.0, compare=False)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _api_error(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("error"):
        return printable(str(body["error"]), 500)
    return None


#: A call id longer than this is not one Insight made; it is treated as an unreadable reply.
MAX_CALL_ID = 255


def _success_flag(value: Any) -> bool | None:
    """Insight's ``success``: True, False, or None when it says neither clearly."""
    if value is True or value == 1 or (isinstance(value, str) and value.strip().lower() in ("true", "1")):
        return True
    if value is False or (isinstance(value, str) and value.strip().lower() == "false"):
        return False
    return None


def _call_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text if text and len(text) <= MAX_CALL_ID and text.isprintable() else None


def classify_response(status: int, body_text: str, headers: Any) -> Reply:
    """Map a received HTTP reply to a :class:`Reply` (the one place status codes get meaning).

    A 2xx reply is read for what it proves: a call id means Insight queued the call (whatever
    ``success`` looks like, unless it is an explicit false, which contradicts it); only an explicit
    false without a call id means the request was refused; anything else is ambiguous.
    """
    body = parse_json(body_text)
    error = _api_error(body)
    if 200 <= status < 300:
        if not isinstance(body, dict):
            return Reply(ReplyKind.AMBIGUOUS, status, error=f"HTTP {status} with an unreadable body")
        success, call_id = _success_flag(body.get("success")), _call_id(body.get("call_id"))
        if success is False:
            if call_id is not None:
                return Reply(ReplyKind.AMBIGUOUS, status, error="success=false yet a call_id: contradictory reply")
            return Reply(ReplyKind.REJECTED, status, error=error or "Insight answered success=false")
        if call_id is not None:
            return Reply(ReplyKind.QUEUED, status, call_id=call_id)
        what = "success without a usable call_id" if success else "a reply without success or call_id"
        return Reply(ReplyKind.AMBIGUOUS, status, error=what)
    if status == 400:
        return Reply(ReplyKind.REJECTED, status, error=error or "HTTP 400: the data was refused")
    if status == 429:
        return Reply(
            ReplyKind.RATE_LIMITED,
            status,
            error=error or "HTTP 429: too many requests",
            retry_after=_retry_after(headers.get("Retry-After")),
        )
    if status in BATCH_FATAL_STATUSES:
        return Reply(ReplyKind.FATAL, status, error=error or f"HTTP {status}: {STATUS_MEANING[status]}")
    if 300 <= status < 400:
        where = redact_url(printable(str(headers.get("Location", "elsewhere")), 200))
        return Reply(ReplyKind.FATAL, status, error=f"HTTP {status} redirect to {where}: check BATCHQUEUE_BASE_URL")
    if 400 <= status < 500 and status != 408:
        return Reply(ReplyKind.REJECTED, status, error=error or f"HTTP {status}")
    return Reply(ReplyKind.AMBIGUOUS, status, error=error or f"HTTP {status}")


#: Errors of the address or the request itself: raised while the request is built, before any
#: connection is used, and no retry can fix them.
_UNUSABLE_REQUEST = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)


def classify_exception(exc: BaseException, *, written: bool) -> Reply:
    """Map a failed request to a :class:`Reply`, from *where* it failed.

    ``written`` says whether any byte of the request reached the socket (see
    :class:`_PhaseTracking`). Before that point (building the request, DNS, TCP connect, the TLS
    handshake) Insight cannot have seen the request: ``NOT_SENT``, safe to retry. After it, any
    failure (a reset, a timeout, a corrupt TLS record) may follow a call Insight queued:
    ``AMBIGUOUS``. The exception's class says only how to word the error.
    """
    name = type(exc).__name__
    if isinstance(exc, _UNUSABLE_REQUEST):
        return Reply(ReplyKind.FATAL, error=f"{name}: the API address is unusable (check BATCHQUEUE_BASE_URL)")
    if not written:
        if isinstance(exc, requests.exceptions.SSLError):
            return Reply(ReplyKind.NOT_SENT, error=f"TLS handshake failed: {_reason(exc)}")
        if isinstance(exc, (requests.exceptions.ConnectionError, OSError)):
            return Reply(ReplyKind.NOT_SENT, error=f"cannot connect: {_reason(exc)}")
        return Reply(ReplyKind.NOT_SENT, error=f"failed before sending ({name}): {_reason(exc)}")
    if isinstance(exc, requests.exceptions.Timeout):
        return Reply(ReplyKind.AMBIGUOUS, error="no reply before the read timeout")
    return Reply(ReplyKind.AMBIGUOUS, error=f"connection broken after sending ({name}): {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    # urllib3 nests its causes; the innermost one says what happened. Its messages may hold the
    # connection object's repr: keep them short and plain.
    cause: BaseException = exc
    for _ in range(5):
        inner = getattr(cause, "reason", None) or (cause.args[0] if cause.args else None)
        if not isinstance(inner, BaseException):
            break
        cause = inner
    return printable(str(cause).split(" object at 0x")[0], 300)


class _Phase(threading.local):
    written = False


_phase = _Phase()


class _PhaseTracking:
    """Mixed into urllib3's connections: records, per thread, the moment request bytes are written.

    http.client opens the socket lazily on the first ``send``; here the connection (TCP, and for
    HTTPS the TLS handshake) is completed first, so a failure while connecting is never counted
    as written.
    """

    sock: Any

    def send(self, data: Any) -> None:
        if self.sock is None:
            self.connect()  # type: ignore[attr-defined]  # the urllib3 connection's own
        _phase.written = True
        super().send(data)  # type: ignore[misc]


class _TrackedHTTPConnection(_PhaseTracking, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_PhaseTracking, HTTPSConnection):
    pass


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _TrackingAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}


class InsightClient:
    """A pooled requests session for the Insight API; it classifies, it never raises for the network."""

    def __init__(
        self,
        base_url: str,
        user: str,
        api_key: Secret,
        *,
        pool_size: int = 4,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        deadline: float = 60.0,
        ca_bundle: str | None = None,
    ) -> None:
        if not base_url.lower().startswith(("http://", "https://")):
            raise UsageError(f"the Insight base URL must start with http:// or https://, got {redact_url(base_url)!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline
        session = requests.Session()
        session.trust_env = False  # no .netrc or proxy lookups per request (~25% of client CPU)
        adapter = _TrackingAdapter(pool_connections=2, pool_maxsize=max(pool_size, 1), max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.auth = (user, api_key.reveal())
        session.verify = ca_bundle or True
        session.headers.update({"Accept": "application/json", "User-Agent": f"batchqueue/{__version__}"})
        self.session = session

    def close(self) -> None:
        self.session.close()

    def _exchange(self, method: str, path: str, data: Sequence[tuple[str, str]] | None) -> tuple[int, str, Any]:
        """One request and its whole body (status, text, headers); raises whatever requests raises."""
        started = time.time()
        _phase.written = False
        response = self.session.request(
            method,
            self.base_url + path,
            data=list(data) if data is not None else None,
            timeout=self.timeout,
            allow_redirects=False,
            stream=True,
        )
        with response:
            body = self._read(response, started)
        return response.status_code, body, response.headers

    def _request(self, method: str, path: str, data: Sequence[tuple[str, str]] | None = None) -> Reply:
        started = time.time()
        try:
            status, body, headers = self._exchange(method, path, data)
            reply = classify_response(status, body, headers)
        except Exception as exc:
            reply = classify_exception(exc, written=_phase.written)
        return Reply(reply.kind, reply.status, reply.call_id, reply.error, reply.retry_after, started, time.time())

    def _read(self, response: requests.Response, started: float) -> str:
        # read1 returns whatever has arrived, so a reply that drips in slowly still meets the
        # overall deadline (each read alone is bounded by the read timeout).
        chunks = []
        size = 0
        raw = response.raw
        while chunk := raw.read1(16384, decode_content=True):
            chunks.append(chunk)
            size += len(chunk)
            if time.time() - started > self.deadline:
                raise requests.exceptions.ReadTimeout("the reply took longer than the request deadline")
            if size > 1 << 20:
                raise requests.exceptions.ContentDecodingError("the reply is larger than 1 MiB")
        return b"".join(chunks).decode("utf-8", errors="replace")

    def queue_call(self, survey_id: str, instance_id: str, form: Sequence[tuple[str, str]]) -> Reply:
        """POST one call request (form-urlencoded) to the queue endpoint; one attempt, classified."""
        return self._request("POST", f"/surveys/{survey_id}/{instance_id}/queue", form)

    def call_status(self, call_id: str) -> tuple[Reply, dict[str, Any] | None]:
        """GET /outbound/{call_id}: the reply (QUEUED means "answered with details") and the body."""
        try:
            status, text, headers = self._exchange("GET", f"/outbound/{call_id}", None)
        except Exception as exc:
            return classify_exception(exc, written=_phase.written), None
        body = parse_json(text)
        if status == 200 and isinstance(body, dict) and body.get("success") in (True, "true"):
            return Reply(ReplyKind.QUEUED, status, call_id=call_id), body
        if status == 404:
            return Reply(ReplyKind.REJECTED, status, error=_api_error(body) or "no such call"), None
        return classify_response(status, text, headers), None

    def cancel_all(self, survey_id: str, instance_id: str) -> Reply:
        """DELETE …/cancel: cancels ALL pending calls of the survey instance (202 on success)."""
        reply = self._request("DELETE", f"/surveys/{survey_id}/{instance_id}/cancel")
        if reply.status == 202:
            return Reply(ReplyKind.QUEUED, 202, started=reply.started, finished=reply.finished)
        return reply
