"""Sends a job's pending rows to Insight: claims, paces, parallelises, and commits every outcome.

Usage::

    summary = Submitter(ledger, client, job, RunOptions(concurrency=8, rate=5)).run(stop_event)

One coordinator (the calling thread) owns the ledger; ``concurrency`` worker threads own the
HTTP requests. The commit protocol holds per row: ``claim`` commits ``sending`` before a row is
handed to a worker, and outcomes are committed (in batches) before they are counted or reported.
A row handed back unsent (the run is stopping) returns to ``pending``; a row whose fate is unknown
becomes ``uncertain``.
"""

from __future__ import annotations

import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchqueue.insight.client import STATUS_MEANING, InsightClient, Reply, ReplyKind
from batchqueue.insight.form import FormBuilder
from batchqueue.insight.pacing import Pacer, SharedPace
from batchqueue.insight.retry import RetryPolicy, send_with_retries
from batchqueue.ledger import Claimed, Job, Ledger, Outcome
from batchqueue.ledger.schema import RowState

_RECORD_BATCH = 256
_RESULT_WAIT = 0.05


@dataclass(frozen=True)
class RunOptions:
    """How a run sends. ``rate`` 0 means no limit; ``on_ambiguous`` is "hold" or "resend"."""

    concurrency: int = 4
    rate: float = 5.0
    on_ambiguous: str = "hold"
    breaker: int = 10
    public_url: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    resend_limit: int = 3
    #: Rows claimed beyond those in flight (None: a quarter of the concurrency). More keeps workers
    #: busy while the ledger commits; fewer means fewer never-sent rows held uncertain after a crash.
    claim_ahead: int | None = None
    #: Many workers on one job (PostgreSQL): recover only expired leases, and pace job-wide.
    shared: bool = False
    lease_ttl: float = 60.0
    #: Negative control for the crash test ONLY: resend rows found ``sending``. Breaks at-most-once.
    unsafe_resend_sending: bool = False


@dataclass
class RunSummary:
    """The outcome of one run; ``exit_reason`` is done, fatal_reply, unreachable, circuit_breaker or interrupted."""

    job_id: int
    exit_reason: str = "done"
    message: str = ""
    sent: int = 0
    recovered_uncertain: int = 0
    this_run: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    fatal_status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The ``run --json`` object (its keys are part of the CLI contract)."""
        return {
            "job_id": self.job_id,
            "exit_reason": self.exit_reason,
            "message": self.message,
            "queued": self.counts.get("queued", 0),
            "failed": self.counts.get("failed", 0),
            "uncertain": self.counts.get("uncertain", 0),
            "pending": self.counts.get("pending", 0),
            "sent": self.sent,
            "recovered_uncertain": self.recovered_uncertain,
            "this_run": self.this_run,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "rate": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
        }


@dataclass
class _Done:
    row: Claimed
    reply: Reply | None  # None: never sent
    tries: list[Reply]


class Submitter:
    """Sends one job. Collaborators are passed in; nothing here reads settings or prints."""

    def __init__(
        self,
        ledger: Ledger,
        client: InsightClient,
        job: Job,
        options: RunOptions,
        on_progress: Callable[[RunSummary], None] | None = None,
    ) -> None:
        self.ledger, self.client, self.job, self.options = ledger, client, job, options
        self.on_progress = on_progress
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        if options.shared and options.rate > 0:
            # The job-wide limit lives in the ledger; the local pacer only adapts (429s, 5xx bursts).
            self.pacer = Pacer(0)
            chunk = max(1, min(options.concurrency, int(options.rate * 0.2)))
            self.pacer.shared = SharedPace(lambda n: ledger.take_slots(job.id, n, options.rate), options.rate, chunk)
        else:
            self.pacer = Pacer(options.rate)
        self.form = FormBuilder(job.headers, list(job.mapping.get("metadata", [])), options.public_url)
        self.halt = threading.Event()
        self._work: queue.Queue[Claimed | None] = queue.Queue()
        self._results: queue.Queue[_Done] = queue.Queue()
        self.summary = RunSummary(job.id, this_run={k.value: 0 for k in ReplyKind})
        self._ambiguous_run = 0
        self.missed_beats = 0

    # -- workers ------------------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            row = self._work.get()
            if row is None:
                return
            if self.halt.is_set():
                self._results.put(_Done(row, None, []))
                continue
            tries: list[Reply] = []
            form = self.form.form(row)

            def send(form: list[tuple[str, str]] = form) -> Reply:
                return self.client.queue_call(self.job.survey_id, self.job.instance_id, form)

            try:
                reply = send_with_retries(send, self.options.retry, self.pacer, on_attempt=tries.append, stop=self.halt)
            except BaseException as exc:
                reply = Reply(ReplyKind.AMBIGUOUS, error=f"internal error while sending: {type(exc).__name__}: {exc}")
                tries.append(reply)
                self._stop("internal_error", reply.error or "")
            if not tries:  # stopped while waiting for its turn: nothing left for this row
                self._results.put(_Done(row, None, []))
                continue
            if reply.kind in (ReplyKind.FATAL, ReplyKind.NOT_SENT, ReplyKind.RATE_LIMITED):
                self.halt.set()  # stop every other worker before its next request
            self._results.put(_Done(row, reply, tries))

    # -- coordinator --------------------------------------------------------------------------

    def _outcome(self, done: _Done) -> Outcome | None:
        """The row's new state for a reply; None for a row that was never sent."""
        reply, row = done.reply, done.row
        if reply is None:
            return None
        kind = reply.kind
        self.summary.sent += 1
        self.summary.this_run[kind.value] += 1

        def outcome(state: RowState, call_id: str | None = None) -> Outcome:
            return Outcome(row.row_id, state, done.tries, call_id, reply.error, reply.status)

        if kind is ReplyKind.QUEUED:
            self._ambiguous_run = 0
            self.pacer.recovered()
            return outcome(RowState.QUEUED, reply.call_id)
        if kind is ReplyKind.REJECTED:
            self._ambiguous_run = 0
            return outcome(RowState.FAILED)
        if kind is ReplyKind.AMBIGUOUS:
            self._ambiguous_run += 1
            self.pacer.slow_down(0.8, observed=self._observed_rate())
            if self._ambiguous_run >= self.options.breaker:
                self._stop(
                    "circuit_breaker",
                    f"{self._ambiguous_run} ambiguous replies in a row (last: {reply.error}); Insight may be failing",
                )
            resend = self.options.on_ambiguous == "resend" and row.attempts < self.options.resend_limit
            return outcome(RowState.PENDING if resend else RowState.UNCERTAIN)
        if kind is ReplyKind.FATAL:
            if reply.status is None:
                message = f"the request could not be made: {reply.error}"
            else:
                meaning = STATUS_MEANING.get(reply.status, "")
                message = f"Insight answered HTTP {reply.status}: {reply.error}" + (
                    f" — {meaning}" if meaning and meaning not in (reply.error or "") else ""
                )
            self._stop("fatal_reply", message, status=reply.status)
            return outcome(RowState.PENDING)
        # NOT_SENT or RATE_LIMITED after every allowed retry: the request was never accepted.
        what = "cannot reach Insight" if kind is ReplyKind.NOT_SENT else "Insight kept answering 429"
        self._stop("unreachable", f"{what} after {len(done.tries)} attempt(s): {reply.error}")
        return outcome(RowState.PENDING)

    def _observed_rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.summary.sent / elapsed if elapsed > 0 else 1.0

    def _stop(self, reason: str, message: str, status: int | None = None) -> None:
        self.halt.set()
        if self.summary.exit_reason == "done":  # the first cause wins
            self.summary.exit_reason, self.summary.message = reason, message
            self.summary.fatal_status = status

    def _drain(self, block: bool) -> list[_Done]:
        done: list[_Done] = []
        try:
            done.append(self._results.get(timeout=_RESULT_WAIT) if block else self._results.get_nowait())
            while len(done) < _RECORD_BATCH:
                done.append(self._results.get_nowait())
        except queue.Empty:
            pass
        return done

    def run(self, stop: threading.Event | None = None) -> RunSummary:
        """Send until no row is pending or the run must stop; returns the summary."""
        stop = stop or threading.Event()
        self._started = time.monotonic()
        to = RowState.PENDING if self.options.unsafe_resend_sending else RowState.UNCERTAIN
        if self.options.on_ambiguous == "resend":
            to = RowState.PENDING
        self.summary.recovered_uncertain = self.ledger.recover_sending(
            self.job.id, to=to, expired_only=self.options.shared
        )
        self.ledger.register_worker(self.worker_id, self.job.id, socket.gethostname(), os.getpid())
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(beating,), name="batchqueue-heartbeat", daemon=True)
        heart.start()
        workers = [
            threading.Thread(target=self._worker, name=f"batchqueue-send-{n}", daemon=True)
            for n in range(self.options.concurrency)
        ]
        for w in workers:
            w.start()
        in_flight = 0
        exhausted = False
        abandoned = False
        # Claimed rows wait in the work queue for a free worker; a crash turns them uncertain even
        # though they were never sent, so keep that queue short (a quarter of the concurrency).
        target = self.options.concurrency + (self.options.claim_ahead or max(1, self.options.concurrency // 4))
        try:
            while True:
                if stop.is_set() and not self.halt.is_set():
                    self._stop("interrupted", "interrupted; rows in flight were recorded, the rest are pending")
                finished = self._drain(block=in_flight > 0 and (exhausted or self.halt.is_set() or in_flight >= target))
                in_flight -= len(finished)
                outcomes = [o for o in map(self._outcome, finished) if o is not None]
                unsent = [d.row.row_id for d in finished if d.reply is None]
                if any(o.state is RowState.PENDING for o in outcomes):
                    exhausted = False  # rows came back to pending (resend mode): claim them again
                want = 0 if self.halt.is_set() or exhausted else target - in_flight
                if outcomes or unsent or want > 0:
                    # One commit: outcomes become durable before they are reported, and the next
                    # rows become 'sending' before any worker can send them.
                    claimed = self.ledger.settle(
                        self.job.id, outcomes, unsent, want, owner=self.worker_id, lease_ttl=self.options.lease_ttl
                    )
                    if want > 0 and len(claimed) < want:
                        exhausted = True
                    for row in claimed:
                        self._work.put(row)
                    in_flight += len(claimed)
                    if outcomes and self.on_progress is not None:
                        self.on_progress(self.summary)
                if in_flight == 0 and (exhausted or self.halt.is_set()):
                    break
        except KeyboardInterrupt:
            # A second Ctrl-C: quit at once. Rows in flight stay 'sending' and become uncertain at
            # the next start; nothing is waited for.
            abandoned = True
            self.halt.set()
            raise
        finally:
            if not abandoned:
                self._wind_down(workers, beating, heart)
        self.summary.seconds = time.monotonic() - self._started
        self.summary.counts = self.ledger.counts(self.job.id)
        return self.summary

    def _wind_down(self, workers: list[threading.Thread], beating: threading.Event, heart: threading.Thread) -> None:
        """Let the workers finish what is in flight, record it, and sign off."""
        self.halt.set()
        for _ in workers:
            self._work.put(None)
        for w in workers:
            w.join()
        # Rows claimed but still queued for a worker were never sent.
        leftover = self._drain(block=False)
        while leftover:
            self.ledger.record([o for o in map(self._outcome, leftover) if o is not None])
            self.ledger.release([d.row.row_id for d in leftover if d.reply is None])
            leftover = self._drain(block=False)
        beating.set()
        heart.join()
        self.ledger.stop_worker(self.worker_id, sent=self.summary.sent)

    def _heartbeat(self, done: threading.Event) -> None:
        """Renew this worker's leases; with many workers, turn dead workers' rows uncertain."""
        interval = self.options.lease_ttl / 3
        last_sent, last_time = 0, time.monotonic()
        while not done.wait(interval):
            now = time.monotonic()
            sent = self.summary.sent
            rate = (sent - last_sent) / (now - last_time) if now > last_time else 0.0
            last_sent, last_time = sent, now
            try:
                self.ledger.heartbeat(self.worker_id, sent=sent, rate=rate, lease_ttl=self.options.lease_ttl)
                if self.options.shared:
                    self.summary.recovered_uncertain += self.ledger.recover_sending(self.job.id, expired_only=True)
            except Exception:
                self.missed_beats += 1
