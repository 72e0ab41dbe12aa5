"""The HTTP endpoints batchqueue serves: result_url callbacks (``batchqueue serve``).

``POST /cb/<row id>/<token>`` records the call's outcome; the token is the row's own 128-bit
secret, compared in constant time, so a forged or unknown URL gets 404 and changes nothing, and
nothing in the body is trusted to pick the row. ``GET`` on the same URL answers 200 (older Plum
platforms probe a result URL before dialing).

Callbacks are committed by one writer thread in groups (one transaction for all callbacks that
arrived together), and each request is answered only after its outcome is committed.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from batchqueue.ledger import Ledger
from batchqueue.outcomes import BadPayload, CallDetails, parse_callback

MAX_BODY = 64 * 1024
_CALLBACK = re.compile(r"/cb/(\d{1,18})/([A-Za-z0-9_-]{16,128})/?")
_GROUP = 512


@dataclass
class _Pending:
    row_id: int
    token: str
    details: CallDetails
    done: threading.Event = field(default_factory=threading.Event)
    verdict: str = ""
    error: BaseException | None = None


class CallbackWriter:
    """Commits callbacks in groups from one thread. Usage: ``writer.submit(row_id, token, details)``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="callback-writer", daemon=True)
        self._thread.start()

    def submit(self, row_id: int, token: str, details: CallDetails, timeout: float = 60.0) -> str:
        """Record one callback; returns "unknown", "recorded" or "unchanged" once committed."""
        item = _Pending(row_id, token, details)
        self._queue.put(item)
        if not item.done.wait(timeout):
            raise TimeoutError("the ledger did not commit the callback in time")
        if item.error is not None:
            raise item.error
        return item.verdict

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            try:
                while len(group) < _GROUP:
                    item = self._queue.get_nowait()
                    if item is None:
                        self._queue.put(None)
                        break
                    group.append(item)
            except queue.Empty:
                pass
            try:
                verdicts = self.ledger.apply_outcomes(
                    [(g.row_id, g.token, g.details) for g in group], source="callback"
                )
                for g, verdict in zip(group, verdicts, strict=True):
                    g.verdict = verdict
            except Exception as exc:
                for g in group:
                    g.error = exc
            for g in group:
                g.done.set()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)


def _reply(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class CallbackApp:
    """WSGI app for result_url callbacks. Usage: ``HttpServer(CallbackApp(ledger), port=8080)``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.writer = CallbackWriter(ledger)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path in ("/health", "/"):
            return _reply(start_response, "200 OK", {"ok": True, "service": "batchqueue callbacks"})
        match = _CALLBACK.fullmatch(path)
        if match is None:
            return _reply(start_response, "404 Not Found", {"error": "unknown callback URL"})
        row_id, token = int(match.group(1)), match.group(2)
        if method in ("GET", "HEAD"):
            if self.ledger.token_matches(row_id, token):
                return _reply(start_response, "200 OK", {"ok": True})
            return _reply(start_response, "404 Not Found", {"error": "unknown callback URL"})
        if method != "POST":
            return _reply(start_response, "405 Method Not Allowed", {"error": "use POST"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reply(start_response, "400 Bad Request", {"error": "bad Content-Length"})
        if length > MAX_BODY:
            return _reply(start_response, "413 Payload Too Large", {"error": f"body over {MAX_BODY} bytes"})
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            details = parse_callback(environ.get("CONTENT_TYPE", ""), body)
        except BadPayload as exc:
            return _reply(start_response, "400 Bad Request", {"error": str(exc)})
        try:
            verdict = self.writer.submit(row_id, token, details)
        except Exception:
            return _reply(start_response, "503 Service Unavailable", {"error": "the ledger is busy; retry"})
        if verdict == "unknown":
            return _reply(start_response, "404 Not Found", {"error": "unknown callback URL"})
        return _reply(start_response, "200 OK", {"ok": True, "recorded": verdict == "recorded"})

    def close(self) -> None:
        self.writer.close()
