"""What one request's outcome means: the one place replies and exceptions get their meaning.

The split mirrors the design's table: what *never reached* Insight (safe to retry) is kept apart
from what *may have* queued a call (never retried automatically). Nothing here sends anything.

Usage::

    reply = classify_response(200, '{"success": true, "call_id": 7}', headers)   # Reply(QUEUED, call_id="7")
    reply = classify_exception(exc, written=True)                                  # AMBIGUOUS
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests

from batchqueue.settings import redact_url
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
    """What one request's outcome means for its row (docs/ARCHITECTURE.md, "What each reply means")."""

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


def api_error(body: Any) -> str | None:
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
    error = api_error(body)
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


#: urllib3 names its connection class in front of a message: say host:port instead.
_CONNECTION_PREFIX = re.compile(r"^\w+\(host='([^']*)', port=(\d+)\): ")


def _reason(exc: BaseException) -> str:
    # urllib3 nests its causes; the innermost one says what happened. Its messages may hold the
    # connection object's repr: keep them short and plain.
    cause: BaseException = exc
    for _ in range(5):
        inner = getattr(cause, "reason", None) or (cause.args[0] if cause.args else None)
        if not isinstance(inner, BaseException):
            break
        cause = inner
    text = _CONNECTION_PREFIX.sub(r"\1:\2: ", str(cause).split(" object at 0x")[0])
    return printable(text, 300)
