"""The HTTP endpoints batchqueue serves: result_url callbacks (``batchqueue serve``).

``POST /cb/<row id>/<token>``: the token is checked (:mod:`batchqueue.callbacks.tokens`) before the
body is read; the body is parsed with bounds (:mod:`batchqueue.callbacks.call_details`); the
callback is spooled and acknowledged (:mod:`batchqueue.callbacks.spooler`). ``GET`` on the same
URL answers 200 (older Plum platforms probe a result URL before dialing). A callback that could not
be made durable (a full disk) is answered 503 with Retry-After, never 200. ``/health`` never waits
on the ledger. Nothing here ever answers 500 for a client's doing, or logs a token.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from batchqueue.callback_urls import split_path
from batchqueue.callbacks.call_details import BadPayload, parse_callback
from batchqueue.callbacks.spooler import CallbackSpooler
from batchqueue.callbacks.tokens import TokenChecker
from batchqueue.ledger import Ledger

log = logging.getLogger(__name__)

#: The largest callback body taken, in bytes (the README's 64 KiB): one byte more is answered 413.
MAX_BODY = 64 * 1024
#: What the HTTP server may receive of one body before this app sees it: a chunked body's framing
#: counts there, so it is twice MAX_BODY (room for chunks of 8 bytes or more); this app then holds
#: the body itself to MAX_BODY, however it was framed.
MAX_BODY_ON_THE_WIRE = 2 * MAX_BODY
#: Seconds a client is asked to wait before it tries a refused (503) callback again.
RETRY_AFTER = 30


def _reply(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if status.startswith("503"):
        headers.append(("Retry-After", str(RETRY_AFTER)))
    start_response(status, headers)
    return [data]


class CallbackApp:
    """WSGI app for result_url callbacks. Usage: ``HttpServer(CallbackApp(ledger, folder), port=8080)``."""

    def __init__(self, ledger: Ledger, spool_folder: Path, *, answer_within: float | None = None) -> None:
        """``answer_within``: how long a request waits for the ledger to apply it before it is
        answered "spooled" (the spooler's default when None)."""
        self.ledger = ledger
        self._answer_within = answer_within
        self.spooler = CallbackSpooler(ledger, spool_folder)
        self._tokens = TokenChecker(ledger)
        #: Callbacks by verdict (recorded, spooled, refused, unavailable: 503), for ``/metrics``.
        self.verdicts: Counter[str] = Counter()
        self._metrics: Callable[..., Iterable[bytes]] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self._route(environ, start_response)
        except Exception as exc:  # a bug, never a user's doing: say nothing of the URL (it holds a token)
            log.exception("internal error while answering a callback request: %s", exc.__class__.__name__)
            return _reply(start_response, "500 Internal Server Error", {"error": "internal error"})

    def _route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path in ("/health", "/"):
            s = self.spooler
            health = {"ok": True, "service": "batchqueue callbacks", "backlog": s.backlog, "applied": s.applied_count}
            health |= {"quarantined": s.quarantined, "spool_error": s.spool_error}
            return _reply(start_response, "200 OK", health)
        if path == "/metrics":
            if self._metrics is None:
                from batchqueue.metrics import serve_registry, wsgi_app

                self._metrics = wsgi_app(serve_registry(self, self.ledger))
            return self._metrics(environ, start_response)
        found = split_path(path)
        if found is None:
            return _reply(start_response, "404 Not Found", {"error": "unknown callback URL"})
        row_id, token = found
        if method not in ("GET", "HEAD", "POST"):
            return _reply(start_response, "405 Method Not Allowed", {"error": "use POST"})
        proven = self._tokens.check(row_id, token)
        if proven is False:
            log.info("callback refused for row %d: unknown row or wrong token", row_id)
            self.verdicts["refused"] += 1
            return _reply(start_response, "404 Not Found", {"error": "unknown callback URL"})
        if method != "POST":
            if proven is None:
                return _reply(start_response, "503 Service Unavailable", {"error": "cannot check the URL now"})
            return _reply(start_response, "200 OK", {"ok": True})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reply(start_response, "400 Bad Request", {"error": "bad Content-Length"})
        if length > MAX_BODY:
            return _reply(start_response, "413 Payload Too Large", {"error": f"body over {MAX_BODY} bytes"})
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            details = parse_callback(environ.get("CONTENT_TYPE", ""), body)
        except BadPayload as exc:
            log.info("callback refused for row %d: %s", row_id, exc)
            self.verdicts["refused"] += 1
            return _reply(start_response, "400 Bad Request", {"error": str(exc)})
        try:
            verdict = (
                self.spooler.submit(row_id, token, details)
                if self._answer_within is None
                else self.spooler.submit(row_id, token, details, timeout=self._answer_within)
            )
        except (OSError, ValueError):
            self.verdicts["unavailable"] += 1
            return _reply(start_response, "503 Service Unavailable", {"error": "cannot spool the callback; retry"})
        self.verdicts["refused" if verdict == "unknown" else verdict] += 1
        if verdict == "unknown":
            return _reply(start_response, "404 Not Found", {"error": "unknown callback URL"})
        if verdict == "spooled":
            return _reply(start_response, "200 OK", {"ok": True, "spooled": True})
        return _reply(start_response, "200 OK", {"ok": True, "recorded": verdict == "recorded"})

    def close(self) -> None:
        self.spooler.close()
