"""Callbacks spooled, then applied to the ledger: acknowledged once durable, never lost.

One writer thread appends the callbacks that arrived together to the spool file with one fsync; a
group whose write fails (a full disk) is refused (the request answers 503) and the spool is left
exactly as it was, so nothing acknowledged ever follows a torn line. Another thread applies the
spool to the ledger as soon as the ledger allows, storing how far it got in the same transaction
(exactly once). A group that fails for any reason but a busy or unreachable ledger is applied one
by one, and only a callback that can never be stored is set aside (in ``rejected.jsonl``), never
dropped. Bytes of a spool that are no record are kept in the quarantine (``quarantine.jsonl``) and
counted. Spools left by a ``serve`` that died are replayed.

Usage::

    spooler = CallbackSpooler(ledger, folder)
    verdict = spooler.submit(row_id, token, details)   # "recorded", "unchanged", ... or "spooled"
    spooler.close()
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from batchqueue.call_outcome import CallDetails
from batchqueue.callbacks.call_details import BadPayload, details_from
from batchqueue.callbacks.quarantine import Quarantine
from batchqueue.callbacks.spool import Batch, Spooled, SpoolFile, append_lines
from batchqueue.errors import BatchqueueError
from batchqueue.ledger import Ledger

log = logging.getLogger(__name__)

_GROUP = 512
#: How long a request waits for the ledger before it is answered "spooled".
_ANSWER_WITHIN = 0.5
#: A spool fully applied and larger than this is replaced by a fresh one.
_ROTATE_AT = 4 * 1024 * 1024
_TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
#: What stops the applier for a while (it tries again): the ledger busy or away, or a file of the
#: spool folder that cannot be written (a full disk).
_TRY_AGAIN = (*_TRANSIENT, OSError)


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
    "conflict", "unknown" once applied, or "spooled" if the ledger is busy; OSError if the callback
    could not be made durable (nothing was acknowledged: the caller answers 503).
    """

    def __init__(self, ledger: Ledger, folder: Path) -> None:
        self.ledger, self.folder = ledger, folder
        self.quarantine = Quarantine(folder)
        self.spool = SpoolFile.create(folder)
        self._swap = threading.Lock()  # one spool file at a time: appends against rotation
        self._lock = threading.Lock()  # guards the waiting map (never held while writing)
        self._incoming: queue.Queue[_Waiting | None] = queue.Queue()
        #: Callbacks spooled and not applied yet, by their end position (in spool order).
        self._waiting: dict[int, _Waiting] = {}
        self._appended = threading.Condition()
        self._stop = threading.Event()
        self.applied_to = self.spool.header_end
        #: Where the records registered as waiting end: the applier reads no further (guarded by _lock).
        self._registered_to = self.spool.header_end
        self.applied_count = 0
        self.spooled_count = 0
        #: Why the last write to the spool failed; None once one succeeds (``/health``).
        self.spool_error: str | None = None
        self._writer = threading.Thread(target=self._write_loop, name="callback-spool-writer", daemon=True)
        self._applier = threading.Thread(target=self._apply_loop, name="callback-ledger-writer", daemon=True)
        self._writer.start()
        self._applier.start()

    @property
    def backlog(self) -> int:
        """Callbacks this process spooled that are not in the ledger yet."""
        with self._lock:
            return len(self._waiting)

    @property
    def quarantined(self) -> int:
        """Damaged stretches of spool files kept in the quarantine file."""
        return self.quarantine.count

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
        while (group := self._next_group()) is not None:
            try:
                self._write(group)
            except Exception as exc:  # a bug: these callbacks are refused (503), the next ones are tried
                log.exception("cannot spool %d callback(s)", len(group))
                for item in group:
                    if not item.durable.is_set():
                        item.error = OSError(f"the callback spool failed ({exc.__class__.__name__})")
                        item.durable.set()

    def _next_group(self) -> list[_Waiting] | None:
        first = self._incoming.get()
        if first is None:
            return None
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
        return group

    def _write(self, group: list[_Waiting]) -> None:
        lines, writable = [], []
        for item in group:
            record = {"row": item.row_id, "token": item.token, "details": item.details.raw, "at": item.received_at}
            try:
                lines.append(SpoolFile.line(record))
            except ValueError as exc:  # cannot be written as JSON: refused alone, never with the others
                item.error = exc
                item.durable.set()
                continue
            writable.append(item)
        if not writable:
            return
        with self._swap:
            try:
                ends = self.spool.append(lines)
            except OSError as exc:
                self.spool_error = exc.strerror or str(exc)
                log.error(
                    "cannot write the callback spool %s: %s; %d callback(s) refused with 503 (nothing kept)",
                    self.spool.path,
                    self.spool_error,
                    len(writable),
                )
                for item in writable:
                    item.error = exc
                    item.durable.set()
                return
            self.spool_error = None
            with self._lock:
                for item, end in zip(writable, ends, strict=True):
                    self._waiting[end] = item
                self._registered_to = ends[-1]
            self.spooled_count += len(writable)
        for item in writable:
            item.durable.set()
        with self._appended:
            self._appended.notify()

    # -- the ledger writer --------------------------------------------------------------------

    def _apply_loop(self) -> None:
        next_orphan_scan = 0.0
        delay, resync = 0.0, False
        while not self._stop.is_set():
            try:
                if resync:  # a failure may have come after some records were stored one by one
                    self.applied_to = max(self.applied_to, self.ledger.spool_position(self.spool.id))
                    resync = False
                if time.monotonic() >= next_orphan_scan:
                    self._replay_orphans()
                    next_orphan_scan = time.monotonic() + 60
                worked = self._apply_next()
            except _TRY_AGAIN as exc:
                delay, resync = min(5.0, max(0.2, delay * 2)), True
                log.warning(
                    "the ledger is busy or unreachable, or the spool folder cannot be written; %d callback(s) "
                    "wait in the spool (%s)",
                    self.backlog,
                    exc.__class__.__name__,
                )
                self._stop.wait(delay)
                continue
            except Exception:  # a bug: logged, tried again later; the spool keeps every callback meanwhile
                delay, resync = min(5.0, max(0.2, delay * 2)), True
                log.exception("applying the callback spool failed")
                self._stop.wait(delay)
                continue
            delay = 0.0
            if not worked:
                self._maybe_rotate()
                with self._appended:
                    self._appended.wait(1.0)

    def _apply_next(self) -> bool:
        """Apply what follows :attr:`applied_to` in the live spool; False if there was nothing."""
        with self._swap:
            spool = self.spool
        with self._lock:
            until = self._registered_to
        batch = spool.read(self.applied_to, until)
        if batch.end <= self.applied_to:
            return False
        verdicts = self._apply_batch(spool, batch)
        self.applied_to = batch.end
        self.applied_count += len(batch.records)
        with self._lock:
            done = []
            while self._waiting and (end := next(iter(self._waiting))) <= batch.end:
                done.append((self._waiting.pop(end), verdicts.get(end, "spooled")))
        for item, verdict in done:
            item.verdict = verdict
            item.applied.set()
        return True

    def _apply_batch(self, spool: SpoolFile, batch: Batch) -> dict[int, str]:
        """Quarantine what is damaged, then apply the records; each record's verdict by its end."""
        if batch.damaged:
            self.quarantine.keep(spool.id, batch.damaged)
        if not batch.records:
            return {}
        verdicts = self._apply(spool, batch.records, batch.end)
        return {r.end: v for r, v in zip(batch.records, verdicts, strict=True)}

    def _apply(self, spool: SpoolFile, records: list[Spooled], end: int) -> list[str]:
        """Apply ``records`` in one transaction that stores ``end`` as the spool's position; if that
        fails for a reason other than a busy or unreachable ledger, one by one, so only a record
        that can never be stored is set aside."""
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
            verdicts = self._apply(spool, usable, end)
            by_end = {r.end: v for r, v in zip(usable, verdicts, strict=True)}
            return [by_end.get(r.end, "error") for r in records]
        try:
            verdicts = self.ledger.apply_outcomes(items, source="callback", spool=(spool.id, end))
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
        for record, verdict in zip(records, verdicts, strict=True):  # per row: debug only (a million rows)
            status = record.details.get("status")
            log.debug("callback for row %d: %s (%s)", record.row_id, verdict, status, extra={"row": record.row_id})
        counted = ", ".join(f"{n} {verdict}" for verdict, n in Counter(verdicts).most_common())
        log.info("applied %d callback(s): %s", len(records), counted, extra={"event": "callback"})
        return verdicts

    def _set_aside(self, record: Spooled, error: BaseException) -> None:
        """A callback the ledger refuses whatever happens: kept in ``rejected.jsonl``, never dropped
        (OSError if it cannot be written: the spool keeps it, and it is tried again)."""
        path = self.folder / "rejected.jsonl"
        line = {"row": record.row_id, "details": record.details, "at": record.received_at, "error": str(error)}
        append_lines(path, (json.dumps(line, ensure_ascii=False) + "\n").encode())
        log.error("callback for row %d cannot be stored (%s); kept in %s", record.row_id, error, path)

    def _replay_orphans(self) -> None:
        """Apply what spools of dead ``serve`` processes still hold, then remove them."""
        for path in SpoolFile.orphans(self.folder, besides=self.spool.id):
            orphan = SpoolFile.adopt(path)
            if orphan is None:
                continue  # a live serve holds it
            try:
                position = self.ledger.spool_position(orphan.id)
                while (batch := orphan.read(position)).end > position:
                    self._apply_batch(orphan, batch)
                    position = batch.end
                    if batch.records:
                        log.info("replayed %d spooled callback(s) from %s", len(batch.records), path.name)
                self.ledger.forget_spool(orphan.id)
                orphan.remove()
            except _TRY_AGAIN as exc:
                log.warning("cannot replay %s yet: %s", path.name, exc.__class__.__name__)
            finally:
                orphan.close()

    def _maybe_rotate(self) -> None:
        with self._swap:
            if self.spool.end < _ROTATE_AT or self.applied_to < self.spool.end:
                return
            try:
                fresh = SpoolFile.create(self.folder)
            except BatchqueueError as exc:  # a full disk: the old spool goes on (it is whole)
                log.warning("cannot start a fresh callback spool: %s", exc)
                return
            old, self.spool = self.spool, fresh
            self.applied_to = fresh.header_end
            with self._lock:
                self._registered_to = fresh.header_end
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
