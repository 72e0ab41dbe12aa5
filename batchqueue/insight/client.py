"""The only module that speaks HTTP to Insight; each request's outcome is classified by
:mod:`batchqueue.insight.replies`, from where it failed (before or after its bytes were written).

Usage::

    client = InsightClient(settings.base_url, settings.user, settings.api_key, pool_size=8)
    reply = client.queue_call("123", "1", [("phone_number", "tel:+16175551234")])
    if reply.kind is ReplyKind.QUEUED: ...
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from batchqueue import __version__
from batchqueue.errors import UsageError
from batchqueue.insight.replies import Reply, ReplyKind, api_error, classify_exception, classify_response
from batchqueue.settings import Secret, redact_url
from batchqueue.untrusted import parse_json, printable

_REPORT_STATUS = {
    401: "HTTP 401: the credentials are invalid or the account is inactive (check BATCHQUEUE_USER and "
    "BATCHQUEUE_API_KEY)",
    403: "HTTP 403: this account may not read report {report_id}",
    404: "HTTP 404: no saved report {report_id} (its number ends the Reporting API URL on the survey's View "
    "Survey Visits page; only a saved report has one)",
}


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


class _TooLarge(requests.exceptions.ContentDecodingError):
    """A reply longer than the client reads."""


#: The largest page of a survey report read (10,000 visits of a long survey stay well below it).
MAX_REPORT_PAGE = 64 << 20


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
        # A server (a proxy, a debugging endpoint, a planted URL) may say the key back: its words
        # are shown, logged and kept with the row, so the key and the Authorization value never are.
        basic = base64.b64encode(f"{user}:{api_key.reveal()}".encode("latin-1", "replace")).decode()
        self._credentials = tuple(c for c in (basic, api_key.reveal()) if c)
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

    def _unsaid(self, reply: Reply) -> Reply:
        """``reply`` with this client's credentials taken out of the words the server gave it."""
        error = reply.error
        if error is None:
            return reply
        for credential in self._credentials:
            error = error.replace(credential, "********")
        return replace(reply, error=error)

    def _request(self, method: str, path: str, data: Sequence[tuple[str, str]] | None = None) -> Reply:
        started = time.time()
        try:
            status, body, headers = self._exchange(method, path, data)
            reply = classify_response(status, body, headers)
        except Exception as exc:
            reply = classify_exception(exc, written=_phase.written)
        reply = self._unsaid(reply)
        return Reply(reply.kind, reply.status, reply.call_id, reply.error, reply.retry_after, started, time.time())

    def _read(self, response: requests.Response, started: float, limit: int = 1 << 20) -> str:
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
            if size > limit:
                raise _TooLarge(f"the reply is larger than {limit >> 20} MiB")
        return b"".join(chunks).decode("utf-8", errors="replace")

    def queue_url(self, survey_id: str, instance_id: str) -> str:
        """The URL a call is queued at (credentials, if the base URL had any, redacted): for messages."""
        return redact_url(f"{self.base_url}/surveys/{survey_id}/{instance_id}/queue")

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
            return self._unsaid(Reply(ReplyKind.REJECTED, status, error=api_error(body) or "no such call")), None
        return self._unsaid(classify_response(status, text, headers)), None

    def report_page(self, report_id: str, params: Sequence[tuple[str, str]]) -> tuple[Reply, str, dict[str, str]]:
        """GET /report/{report_id} (a saved survey report, ``text/csv``) with ``params`` (limit,
        offset, start_timestamp, end_timestamp) in the query string: the reply (QUEUED means "here
        is the page"), the page's text, and its headers (X-Plum-Total-Rows…). One attempt."""
        started = time.time()
        _phase.written = False
        try:
            response = self.session.get(
                f"{self.base_url}/report/{report_id}",
                params=list(params),
                headers={"Accept": "text/csv"},
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
            with response:
                text = self._read(response, started, MAX_REPORT_PAGE)
        except _TooLarge as exc:
            error = f"{exc}: ask for smaller pages (--page-size)"
            return Reply(ReplyKind.REJECTED, error=error, started=started, finished=time.time()), "", {}
        except Exception as exc:
            reply = self._unsaid(classify_exception(exc, written=_phase.written))
            return replace(reply, started=started, finished=time.time()), "", {}
        headers = {k.lower(): v for k, v in response.headers.items()}
        status = response.status_code
        if status == 200:
            return Reply(ReplyKind.QUEUED, status, started=started, finished=time.time()), text, headers
        reply = classify_response(status, text, response.headers)
        if status in _REPORT_STATUS:
            said = f" ({reply.error})" if reply.error and not reply.error.startswith("HTTP") else ""
            reply = replace(reply, error=_REPORT_STATUS[status].format(report_id=report_id) + said)
        elif text and not text.lstrip().startswith("{"):
            reply = replace(reply, error=f"HTTP {status}: {printable(text, 300)}")
        elif reply.error and not reply.error.startswith("HTTP"):
            reply = replace(reply, error=f"HTTP {status}: {reply.error}")
        return replace(self._unsaid(reply), started=started, finished=time.time()), "", headers

    def cancel_all(self, survey_id: str, instance_id: str) -> Reply:
        """DELETE …/cancel: cancels ALL pending calls of the survey instance (202 on success)."""
        reply = self._request("DELETE", f"/surveys/{survey_id}/{instance_id}/cancel")
        if reply.status == 202:
            return Reply(ReplyKind.QUEUED, 202, started=reply.started, finished=reply.finished)
        return reply
