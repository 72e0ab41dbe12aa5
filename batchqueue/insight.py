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
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from batchqueue import __version__
from batchqueue.config import Secret
from batchqueue.errors import UsageError

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
        return str(body["error"])[:500]
    return None


def classify_response(status: int, body_text: str, headers: Any) -> Reply:
    """Map a received HTTP reply to a :class:`Reply` (the one place status codes get meaning)."""
    try:
        body: Any = json.loads(body_text) if body_text else None
    except ValueError:
        body = None
    error = _api_error(body)
    if 200 <= status < 300:
        if not isinstance(body, dict) or "success" not in body:
            return Reply(ReplyKind.AMBIGUOUS, status, error=f"HTTP {status} with an unreadable body")
        if body["success"] is True or str(body["success"]).lower() == "true":
            call_id = body.get("call_id")
            if call_id in (None, ""):
                return Reply(ReplyKind.AMBIGUOUS, status, error="success without a call_id")
            return Reply(ReplyKind.QUEUED, status, call_id=str(call_id))
        return Reply(ReplyKind.REJECTED, status, error=error or "Insight answered success=false")
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
        where = headers.get("Location", "elsewhere")
        return Reply(ReplyKind.FATAL, status, error=f"HTTP {status} redirect to {where}: check BATCHQUEUE_BASE_URL")
    if 400 <= status < 500 and status != 408:
        return Reply(ReplyKind.REJECTED, status, error=error or f"HTTP {status}")
    return Reply(ReplyKind.AMBIGUOUS, status, error=error or f"HTTP {status}")


def classify_exception(exc: BaseException) -> Reply:
    """Map a failed request to a :class:`Reply`: nothing-was-sent versus may-have-been-received."""
    name = type(exc).__name__
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader,
            requests.exceptions.URLRequired,
        ),
    ):
        return Reply(ReplyKind.FATAL, error=f"{name}: the API address is unusable (check BATCHQUEUE_BASE_URL)")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Reply(ReplyKind.NOT_SENT, error="connect timeout")
    if isinstance(exc, (requests.exceptions.ProxyError, requests.exceptions.SSLError)):
        # Both fail before the request is written: proxy CONNECT or the TLS handshake.
        return Reply(ReplyKind.NOT_SENT, error=f"{name}: {_reason(exc)}")
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        cause = getattr(reason, "reason", reason)
        if isinstance(cause, (NewConnectionError, NameResolutionError, ConnectTimeoutError)):
            return Reply(ReplyKind.NOT_SENT, error=f"cannot connect: {_reason(cause)}")
        return Reply(ReplyKind.AMBIGUOUS, error=f"connection broken after sending: {_reason(exc)}")
    if isinstance(exc, requests.exceptions.Timeout):  # ReadTimeout: the request was sent
        return Reply(ReplyKind.AMBIGUOUS, error="no reply before the read timeout")
    return Reply(ReplyKind.AMBIGUOUS, error=f"{name}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 puts the connection object's repr in some messages; keep them short and plain.
    return text.split(" object at 0x")[0][:300]


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
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"the Insight base URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline
        session = requests.Session()
        session.trust_env = False  # no .netrc or proxy lookups per request (~25% of client CPU)
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 1), max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.auth = (user, api_key.reveal())
        session.headers.update({"Accept": "application/json", "User-Agent": f"batchqueue/{__version__}"})
        self.session = session

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, path: str, data: Sequence[tuple[str, str]] | None = None) -> Reply:
        started = time.time()
        try:
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
            reply = classify_response(response.status_code, body, response.headers)
        except Exception as exc:
            reply = classify_exception(exc)
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
        started = time.time()
        try:
            response = self.session.get(
                f"{self.base_url}/outbound/{call_id}", timeout=self.timeout, allow_redirects=False, stream=True
            )
            with response:
                text = self._read(response, started)
        except Exception as exc:
            return classify_exception(exc), None
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        status = response.status_code
        if status == 200 and isinstance(body, dict) and body.get("success") in (True, "true"):
            return Reply(ReplyKind.QUEUED, status, call_id=call_id), body
        if status == 404:
            return Reply(ReplyKind.REJECTED, status, error=_api_error(body) or "no such call"), None
        return classify_response(status, text, response.headers), None

    def cancel_all(self, survey_id: str, instance_id: str) -> Reply:
        """DELETE …/cancel: cancels ALL pending calls of the survey instance (202 on success)."""
        reply = self._request("DELETE", f"/surveys/{survey_id}/{instance_id}/cancel")
        if reply.status == 202:
            return Reply(ReplyKind.QUEUED, 202, started=reply.started, finished=reply.finished)
        return reply
