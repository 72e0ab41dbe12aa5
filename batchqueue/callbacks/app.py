"""The HTTP endpoints batchqueue serves: result_url callbacks (``batchqueue serve``).

``POST /cb/<row id>/<token>``: the token is the row's own 128-bit secret, checked (in constant
time) before the body is even read, so a forged or unknown URL gets 404, costs nothing and changes
nothing; nothing in the body is trusted to pick the row. ``GET`` on the same URL answers 200
(older Plum platforms probe a result URL before dialing).

An accepted callback is appended to the callback spool and fsynced (one write for all callbacks
that arrived together), and then acknowledged; a writer applies the spool to the ledger as soon as
the ledger allows. When the ledger keeps up (normally within milliseconds) the reply says whether
the outcome was recorded; when it is busy the reply says the callback is spooled. Either way it
comes within a second, and the outcome is never lost. ``/health`` never waits on the ledger.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from batchqueue.callbacks.call_details import BadPayload, CallDetails, details_from, parse_callback
from batchqueue.callbacks.spool import Spooled, SpoolFile
from batchqueue.ledger import Ledger

log = logging.getLogger("batchqueue.callbacks")

MAX_BODY = 64 * 1024
_CALLBACK_PREFIX = "/cb/"
_GROUP = 512
#: How long a request waits for the ledger before it is answered "spooled".
_ANSWER_WITHIN = 0.5
#: A spool fully applied and larger than this is replaced by a fresh one.
_ROTATE_AT = 4 * 1024 * 1024
_TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def _split_path(path: str) -> tuple[int, str] | None:
    """``/cb/<row id>/<token>`` → (row id, token), or None for any other path."""
    if not path.startswith(_CALLBACK_PREFIX):
        return None
    parts = path[len(_CALLBACK_PREFIX) :].rstrip("/").split("/")
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 18:
        return None
    token = parts[1]
    if not 16 <= len(token) <= 128 or not all(c.isalnum() or c in "-_" for c in token) or not token.isascii():
        return None
    return int(parts[0]), token


@dataclass
class _Waiting:
    """A callback on its way to the spool and the ledger, and the request thread waiting on it."""

    row_id: int
    token: str
    details: CallDetails
    received_at: float
    durable: threading.Event = field(default_factory=threading.Event)
    applied: threading.Event = field(default_factory=threading.Event)
    verdict: str = ""
    error: BaseException | None = None


class CallbackSpooler:
    """Spools callbacks (one writer thread, group fsyncs) and applies them to the ledger (another).

    Usage: ``verdict = spooler.submit(row_id, token, details)`` → "recorded", "unchanged",
    "conflict", "unknown" once applied, or "spooled" if the ledger is busy.
    """

    def __init__(self, ledger: Ledger, folder: Path) -> None:
        self.ledger, self.folder = ledger, folder
        self.spool = SpoolFile.create(folder)
        self._lock = threading.Lock()  # guards the spool swap and the waiting map
        self._incoming: queue.Queue[_Waiting | None] = queue.Queue()
        self._waiting: dict[int, _Waiting] = {}
        self._appended = threading.Condition()
        self._stop = threading.Event()
        self.applied_to = self.spool.header_end
        self.applied_count = 0
        self.spooled_count = 0
        self.backlog = 0
        self._writer = threading.Thread(target=self._write_loop, name="callback-spool-writer", daemon=True)
        self._applier = threading.Thread(target=self._apply_loop, name="callback-ledger-writer", daemon=True)
        self._writer.start()
        self._applier.start()

    # -- request threads ----------------------------------------------------------------------

    def submit(self, row_id: int, token: str, details: CallDetails, timeout: float = _ANSWER_WITHIN) -> str:
        item = _Waiting(row_id, token, details, time.time())
        self._incoming.put(item)
        if not item.durable.wait(30):
            raise OSError("the callback spool did not answer in 30 s")
        if item.error is not None:
            raise item.error
        if item.applied.wait(timeout):
            return item.verdict
        return "spooled"

    # -- the spool writer ---------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            first = self._incoming.get()
            if first is None:
                return
            group = [first]
            try:
                while len(group) < _GROUP:
                    item = self._incoming.get_nowait()
                    if item is None:
                        self._incoming.put(None)
                        break
                    group.append(item)
            except queue.Empty:
                pass
            records = [
                {"row": g.row_id, "token": g.token, "details": g.details.raw, "at": g.received_at} for g in group
            ]
            with self._lock:
                try:
                    ends = self.spool.append(records)
                except (OSError, ValueError) as exc:
                    log.error("cannot write the callback spool %s: %s", self.spool.path, exc)
                    for g in group:
                        g.error = exc
                        g.durable.set()
                    continue
                for g, end in zip(group, ends, strict=True):
                    self._waiting[end] = g
                self.spooled_count += len(group)
                self.backlog += len(group)
            for g in group:
                g.durable.set()
            with self._appended:
                self._appended.notify()

    # -- the ledger writer --------------------------------------------------------------------

    def _apply_loop(self) -> None:
        self._replay_orphans()
        next_orphan_scan = time.monotonic() + 60
        delay = 0.0
        while not self._stop.is_set():
            with self._lock:
                spool = self.spool
            records = list(spool.read_from(self.applied_to))
            if not records:
                if time.monotonic() > next_orphan_scan:
                    self._replay_orphans()
                    next_orphan_scan = time.monotonic() + 60
                self._maybe_rotate()
                with self._appended:
                    self._appended.wait(1.0)
                continue
            try:
                verdicts = self._apply(spool, records)
            except _TRANSIENT as exc:
                delay = min(5.0, max(0.2, delay * 2))
                log.warning(
                    "the ledger is busy or unreachable; %d callback(s) wait in the spool (%s)",
                    len(records),
                    exc.__class__.__name__,
                )
                self._stop.wait(delay)
                continue
            delay = 0.0
            self.applied_to = records[-1].end
            self.applied_count += len(records)
            with self._lock:
                self.backlog -= len(records)
                waiting = [(self._waiting.pop(r.end, None), v) for r, v in zip(records, verdicts, strict=True)]
            for item, verdict in waiting:
                if item is not None:
                    item.verdict = verdict
                    item.applied.set()

    def _apply(self, spool: SpoolFile, records: list[Spooled]) -> list[str]:
        """Apply ``records`` in one transaction; if that fails for a reason other than a busy or
        unreachable ledger, one by one, so only a record that can never be stored is set aside."""
        usable, items = [], []
        for record in records:
            try:
                items.append((record.row_id, record.token, details_from(record.details)))
                usable.append(record)
            except BadPayload as exc:  # validated before it was spooled; only a damaged file gets here
                self._set_aside(record, exc)
        if not usable:
            return ["error"] * len(records)
        if len(usable) < len(records):
            verdicts = self._apply(spool, usable)
            by_end = {r.end: v for r, v in zip(usable, verdicts, strict=True)}
            return [by_end.get(r.end, "error") for r in records]
        try:
            verdicts = self.ledger.apply_outcomes(items, source="callback", spool=(spool.id, records[-1].end))
        except _TRANSIENT:
            raise
        except (DBAPIError, ValueError, OverflowError) as exc:
            log.warning("a group of %d callbacks failed (%s); applying them one by one", len(items), exc)
            verdicts = []
            for record, item in zip(records, items, strict=True):
                try:
                    verdicts += self.ledger.apply_outcomes([item], source="callback", spool=(spool.id, record.end))
                except _TRANSIENT:
                    raise
                except (DBAPIError, ValueError, OverflowError) as one:
                    self._set_aside(record, one)
                    verdicts.append("error")
        for record, verdict in zip(records, verdicts, strict=True):
            log.info("callback for row %d: %s (%s)", record.row_id, verdict, record.details.get("status"))
        return verdicts

    def _set_aside(self, record: Spooled, error: BaseException) -> None:
        """A callback the ledger refuses whatever happens: kept in ``rejected.jsonl``, never dropped."""
        path = self.folder / "rejected.jsonl"
        line = {"row": record.row_id, "details": record.details, "at": record.received_at, "error": str(error)}
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        log.error("callback for row %d cannot be stored (%s); kept in %s", record.row_id, error, path)

    def _replay_orphans(self) -> None:
        """Apply what spools of dead ``serve`` processes still hold, then remove them."""
        for path in SpoolFile.orphans(self.folder, besides=self.spool.id):
            orphan = SpoolFile.adopt(path)
            if orphan is None:
                continue  # a live serve holds it
            try:
                position = self.ledger.spool_position(orphan.id)
                while records := list(orphan.read_from(position)):
                    self._apply(orphan, records)
                    position = records[-1].end
                    log.info("replayed %d spooled callback(s) from %s", len(records), path.name)
                self.ledger.forget_spool(orphan.id)
                orphan.remove()
            except _TRANSIENT as exc:
                log.warning("cannot replay %s yet: %s", path.name, exc.__class__.__name__)
                orphan.close()

    def _maybe_rotate(self) -> None:
        with self._lock:
            if self.backlog or self.spool.size() < _ROTATE_AT or self.applied_to < self.spool.size():
                return
            old, self.spool = self.spool, SpoolFile.create(self.folder)
            self.applied_to = self.spool.header_end
        try:
            self.ledger.forget_spool(old.id)
        except _TRANSIENT:
            old.close()  # replayed (as a no-op) and removed by the next orphan scan
            return
        old.remove()

    def close(self) -> None:
        self._incoming.put(None)
        self._writer.join(timeout=10)
        self._stop.set()
        with self._appended:
            self._appended.notify()
        self._applier.join(timeout=10)
        self.spool.close()


def _reply(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class _TokenCache:
    """Recently proven (row id, token) pairs, so a burst of callbacks does not re-read each token."""

    def __init__(self, size: int = 4096) -> None:
        self._known: OrderedDict[int, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, row_id: int) -> str | None:
        with self._lock:
            return self._known.get(row_id)

    def put(self, row_id: int, token: str) -> None:
        with self._lock:
            self._known[row_id] = token
            self._known.move_to_end(row_id)
            while len(self._known) > self._size:
                self._known.popitem(last=False)


class CallbackApp:
    """WSGI app for result_url callbacks. Usage: ``HttpServer(CallbackApp(ledger, folder), port=8080)``."""

    def __init__(self, ledger: Ledger, spool_folder: Path) -> None:
        self.ledger = ledger
        self.spooler = CallbackSpooler(ledger, spool_folder)
        self._tokens = _TokenCache()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self._route(environ, start_response)
        except Exception as exc:  # a bug, never a user's doing: say nothing of the URL (it holds a token)
            log.exception("internal error while answering a callback request: %s", exc.__class__.__name__)
            return _reply(start_response, "500 Internal Server Error", {"error": "internal error"})

    def _token_ok(self, row_id: int, token: str) -> bool | None:
        """True or False; None when the ledger cannot be read right now (the spool decides later)."""
        known = self._tokens.get(row_id)
        if known is not None:
            return hmac.compare_digest(known.encode(), token.encode())
        try:
            if self.ledger.token_matches(row_id, token):
                self._tokens.put(row_id, token)
                return True
            return False
        except DBAPIError:
            return None

    def _route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path in ("/health", "/"):
            s = self.spooler
            return _reply(
                start_response,
                "200 OK",
                {"ok": True, "service": "batchqueue callbacks", "backlog": s.backlog, "applied": s.applied_count},
            )
        found = _split_path(path)
        if found is None:
            return _reply(start_response, "404 Not Found", {"error": "unknown callback URL"})
        row_id, token = found
        if method not in ("GET", "HEAD", "POST"):
            return _reply(start_response, "405 Method Not Allowed", {"error": "use POST"})
        proven = self._token_ok(row_id, token)
        if proven is False:
            log.info("callback refused for row %d: unknown row or wrong token", row_id)
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
            return _reply(start_response, "400 Bad Request", {"error": str(exc)})
        try:
            verdict = self.spooler.submit(row_id, token, details)
        except (OSError, ValueError):
            return _reply(start_response, "503 Service Unavailable", {"error": "cannot spool the callback; retry"})
        if verdict == "unknown":
            return _reply(start_response, "404 Not Found", {"error": "unknown callback URL"})
        if verdict == "spooled":
            return _reply(start_response, "200 OK", {"ok": True, "spooled": True})
        return _reply(start_response, "200 OK", {"ok": True, "recorded": verdict == "recorded"})

    def close(self) -> None:
        self.spooler.close()
