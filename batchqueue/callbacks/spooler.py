"""Callbacks spooled, then applied to the ledger: acknowledged once durable, never lost.

One writer thread appends the callbacks that arrived together to the spool file with one fsync;
another applies the spool to the ledger as soon as the ledger allows, storing how far it got in
the same transaction (exactly once). A group that fails for any reason but a busy or unreachable
ledger is applied one by one, and only a callback that can never be stored is set aside (in
``rejected.jsonl``), never dropped. Spools left by a ``serve`` that died are replayed.

Usage::

    spooler = CallbackSpooler(ledger, folder)
    verdict = spooler.submit(row_id, token, details)   # "recorded", "unchanged", ... or "spooled"
    spooler.close()
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from batchqueue.call_outcome import CallDetails
from batchqueue.callbacks.call_details import BadPayload, details_from
from batchqueue.callbacks.spool import Spooled, SpoolFile
from batchqueue.ledger import Ledger

log = logging.getLogger("batchqueue.callbacks")

_GROUP = 512
#: How long a request waits for the ledger before it is answered "spooled".
_ANSWER_WITHIN = 0.5
#: A spool fully applied and larger than this is replaced by a fresh one.
_ROTATE_AT = 4 * 1024 * 1024
_TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


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
