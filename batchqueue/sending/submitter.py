"""Sends a job's pending rows to Insight: claims, paces, parallelises, and commits every outcome.

Usage::

    summary = Submitter(ledger, client, job, RunOptions(concurrency=8, rate=5)).run(stop_event)

One coordinator (the calling thread) owns the ledger; ``concurrency`` worker threads own the
HTTP requests. The commit protocol holds per row: a row is committed ``sending`` before it is
handed to a worker, and settlements are committed (in batches) before they are counted or
reported. What a reply *means* for a row is an event (this module decides what happened); what
the row *becomes* is the lifecycle table's to say.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchqueue.defaults import DEFAULTS
from batchqueue.exits import EXIT_CODES, EXIT_FINISHED_WITH_PROBLEMS, EXIT_OK, ExitReason
from batchqueue.holds import Holds
from batchqueue.insight.client import InsightClient
from batchqueue.insight.form import FormBuilder
from batchqueue.insight.pacing import Pacer, SharedPace
from batchqueue.insight.replies import STATUS_MEANING, Reply, ReplyKind
from batchqueue.insight.retry import RetryPolicy, send_with_retries
from batchqueue.ledger import Attempt, Claimed, ClaimReview, Job, Ledger, Settlement
from batchqueue.lifecycle import Event
from batchqueue.sending.fates import LEDGER_ERRORS, Fates
from batchqueue.sending.reply_events import AmbiguousPolicy, event_for

log = logging.getLogger(__name__)

_RECORD_BATCH = 256
_RESULT_WAIT = 0.05


@dataclass(frozen=True)
class RunOptions:
    """How a run sends. ``rate`` 0 means no limit; ``on_ambiguous`` is "hold" or "resend"."""

    concurrency: int = DEFAULTS.concurrency
    rate: float = DEFAULTS.rate
    on_ambiguous: str = DEFAULTS.on_ambiguous
    breaker: int = DEFAULTS.breaker
    public_url: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    resend_limit: int = DEFAULTS.resend_limit
    #: Rows claimed beyond those in flight (None: a quarter of the concurrency). More keeps workers
    #: busy while the ledger commits; fewer means fewer never-sent rows held uncertain after a crash.
    claim_ahead: int | None = None
    #: Many workers on one job (PostgreSQL): recover only expired leases, and pace job-wide.
    shared: bool = False
    lease_ttl: float = DEFAULTS.lease_ttl
    #: Seconds to keep retrying, with backoff, to write the rows' fates once the ledger is lost.
    ledger_wait: float = DEFAULTS.ledger_wait
    #: A send-time rule, run inside each claim transaction (it may hold rows or narrow windows).
    review: ClaimReview | None = None
    #: At most this many rows claimed (so sent) by this run: a test send (None: every pending row).
    limit: int | None = None
    #: Negative control for the crash test ONLY: resend rows found ``sending``. Breaks at-most-once.
    unsafe_resend_sending: bool = False


@dataclass
class RunSummary:
    """The outcome of one run."""

    job_id: int
    exit_reason: ExitReason = ExitReason.DONE
    message: str = ""
    sent: int = 0
    recovered_uncertain: int = 0
    suppressed: int = 0  # rows a rule suppressed as they were claimed, this run (all reasons)
    #: The same by reason: "dnc", "recontact", "max-contacts" (see Settled.suppressed_by).
    suppressed_by: dict[str, int] = field(default_factory=dict)
    this_run: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    fatal_status: int | None = None
    conflicts: list[str] = field(default_factory=list)
    pace: float | None = None  # the pacer's rate now (None: no limit), for the progress line
    configured_rate: float | None = None
    slowed_by: str | None = None  # 429, 5xx or retry_after when the pace is down because of it
    held: int = 0  # pending rows a claim held (see ``holds`` for why)
    next_window_at: float | None = None  # when the first held row may be sent
    holds: Holds = field(default_factory=Holds)  # the held rows by reason, after the run

    def as_dict(self) -> dict[str, Any]:
        """The ``run --json`` object (its keys are part of the CLI contract)."""
        return {
            "job_id": self.job_id,
            "exit_reason": self.exit_reason.value,
            "message": self.message,
            "queued": self.counts.get("queued", 0),
            "failed": self.counts.get("failed", 0),
            "uncertain": self.counts.get("uncertain", 0),
            "pending": self.counts.get("pending", 0),
            "sent": self.sent,
            "recovered_uncertain": self.recovered_uncertain,
            "suppressed": self.suppressed,
            "suppressed_by": self.suppressed_by,
            "held": self.held,
            "next_window_at": self.next_window_at,
            "holds": self.holds.as_json(),
            "this_run": self.this_run,
            "counts": self.counts,
            "conflicts": self.conflicts,
            "seconds": round(self.seconds, 3),
            "rate": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
        }

    @property
    def exit_code(self) -> int:
        """The run's exit code: its stop reason's, else 1 when rows of the job failed or are uncertain."""
        if self.exit_reason is not ExitReason.DONE:
            return EXIT_CODES[self.exit_reason]
        problems = self.counts.get("failed", 0) or self.counts.get("uncertain", 0)
        return EXIT_FINISHED_WITH_PROBLEMS if problems else EXIT_OK


@dataclass
class _Done:
    row: Claimed
    reply: Reply | None  # None: never sent
    tries: list[Reply]


def _attempt(reply: Reply) -> Attempt:
    return Attempt(reply.kind.value, reply.status, reply.call_id, reply.error, reply.started, reply.finished)


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
        self.ambiguity = AmbiguousPolicy.of(options.on_ambiguous, options.resend_limit)
        self.form = FormBuilder(job.headers, list(job.mapping.get("metadata", [])), options.public_url)
        self.halt = threading.Event()
        self._work: queue.Queue[Claimed | None] = queue.Queue()
        self._results: queue.Queue[_Done] = queue.Queue()
        self.summary = RunSummary(job.id, this_run={k.value: 0 for k in ReplyKind})
        self._ambiguous_run = 0
        self._last_beat = time.monotonic()
        #: What became of each row this run claimed, until the ledger has it (see sending/fates).
        self.fates = Fates(ledger, job.id, self.worker_id, options.ledger_wait)

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
                if self._leases_lost():
                    # Paused or cut off for longer than the lease: another worker may already have
                    # taken this row over. It must not leave from here.
                    self._stop(ExitReason.LEDGER_LOST, self._lost_message())
                    return Reply(ReplyKind.NOT_SENT, error="this worker's lease expired before the request left")
                return self.client.queue_call(self.job.survey_id, self.job.instance_id, form)

            try:
                reply = send_with_retries(send, self.options.retry, self.pacer, on_attempt=tries.append, stop=self.halt)
            except BaseException as exc:
                reply = Reply(ReplyKind.AMBIGUOUS, error=f"internal error while sending: {type(exc).__name__}: {exc}")
                tries.append(reply)
                log.exception(
                    "internal error while sending row %d", row.row_id, extra={"job": self.job.id, "row": row.row_id}
                )
                self._stop(ExitReason.INTERNAL_ERROR, reply.error or "")
            if not tries:  # stopped while waiting for its turn: nothing left for this row
                self._results.put(_Done(row, None, []))
                continue
            if reply.kind in (ReplyKind.FATAL, ReplyKind.NOT_SENT, ReplyKind.RATE_LIMITED):
                self.halt.set()  # stop every other worker before its next request
            self._results.put(_Done(row, reply, tries))

    # -- coordinator --------------------------------------------------------------------------

    def _settlement(self, done: _Done) -> Settlement | None:
        """What happened to a row that was sent (None: it never was): the event is the decider's
        (:func:`~batchqueue.sending.reply_events.event_for`); what the run does about the reply
        (its pace, the breaker, stopping) is :meth:`_react`'s; whether the request may have left is
        kept in :attr:`fates` until the ledger has it."""
        reply, row = done.reply, done.row
        if reply is None:
            return None
        kind = reply.kind
        if kind is not ReplyKind.NOT_SENT and not (kind is ReplyKind.FATAL and reply.status is None):
            self.summary.sent += 1  # it left: Insight answered, or may have got it
        self.summary.this_run[kind.value] += 1
        event = event_for(reply, self.ambiguity, row.attempts)
        self._react(reply, len(done.tries))
        if event is not Event.NOT_ACCEPTED:
            self.fates.may_have_left(row.row_id)
        call_id = reply.call_id if event is Event.ACCEPTED else None
        attempts = [_attempt(r) for r in done.tries]
        return Settlement(row.row_id, event, attempts, call_id, reply.error, reply.status)

    def _react(self, reply: Reply, tries: int) -> None:
        """The run's answer to a reply: its pace, the breaker's count, and stopping when it must."""
        kind = reply.kind
        if kind is ReplyKind.QUEUED:
            self._ambiguous_run = 0
            self.pacer.recovered()
        elif kind is ReplyKind.REJECTED:
            self._ambiguous_run = 0
        elif kind is ReplyKind.AMBIGUOUS:
            self._ambiguous_run += 1
            if self.pacer.slow_down(0.8, observed=self._observed_rate(), cause="5xx"):
                log.warning("throttle: ambiguous replies (%s); pace now %s", reply.error, self._pace())
            if self._ambiguous_run >= self.options.breaker:
                self._stop(
                    ExitReason.CIRCUIT_BREAKER,
                    f"{self._ambiguous_run} ambiguous replies in a row (last: {reply.error}); Insight may be failing",
                )
        elif kind is ReplyKind.FATAL:
            self._stop(ExitReason.FATAL_REPLY, self._fatal_message(reply), status=reply.status)
        else:  # NOT_SENT or RATE_LIMITED after every allowed retry: the request was never accepted.
            what = "cannot reach Insight" if kind is ReplyKind.NOT_SENT else "Insight kept answering 429"
            self._stop(ExitReason.UNREACHABLE, f"{what} after {tries} attempt(s): {reply.error}")

    def _fatal_message(self, reply: Reply) -> str:
        """What a batch-fatal reply means, in words (with the URL when it looks like a wrong one)."""
        if reply.status is None:
            return f"the request could not be made: {reply.error}"
        meaning = STATUS_MEANING.get(reply.status, "")
        message = f"Insight answered HTTP {reply.status}: {reply.error}" + (
            f" — {meaning}" if meaning and meaning not in (reply.error or "") else ""
        )
        if reply.status in (404, 409):  # a wrong base URL (no /api) looks like a wrong survey
            message += f"; the URL was {self.client.queue_url(self.job.survey_id, self.job.instance_id)}"
        return message

    def _leases_lost(self) -> bool:
        """Whether this worker went longer than its lease without a heartbeat (many workers only):
        its rows may then be someone else's, so nothing more is sent."""
        return self.options.shared and time.monotonic() - self._last_beat > 0.9 * self.options.lease_ttl

    def _lost_message(self) -> str:
        return (
            f"this worker went {time.monotonic() - self._last_beat:.0f}s without renewing its leases "
            f"(--lease-ttl {self.options.lease_ttl:g}s): it was paused or cut off from the ledger, so its "
            "rows may now be another worker's; it stopped sending and recorded what came back"
        )

    def _pace(self) -> str:
        return "unlimited" if self.pacer.rate is None else f"{self.pacer.rate:.1f}/s"

    def _observed_rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.summary.sent / elapsed if elapsed > 0 else 1.0

    def _stop(self, reason: ExitReason, message: str, status: int | None = None) -> None:
        self.halt.set()
        if self.summary.exit_reason is ExitReason.DONE:  # the first cause wins
            self.summary.exit_reason, self.summary.message = reason, message
            self.summary.fatal_status = status
            log.error("run of job %d stopping (%s): %s", self.job.id, reason.value, message)

    def _drain(self, block: bool) -> list[_Done]:
        done: list[_Done] = []
        try:
            done.append(self._results.get(timeout=_RESULT_WAIT) if block else self._results.get_nowait())
            while len(done) < _RECORD_BATCH:
                done.append(self._results.get_nowait())
        except queue.Empty:
            pass
        return done

    def _note_conflicts(self, conflicts: list[Any]) -> None:
        for conflict in conflicts:  # the ledger logged each as it found it
            self.summary.conflicts.append(str(conflict))

    def run(self, stop: threading.Event | None = None) -> RunSummary:
        """Send until no row is pending or the run must stop; returns the summary."""
        stop = stop or threading.Event()
        self._started = time.monotonic()
        resend = self.options.on_ambiguous == "resend" or self.options.unsafe_resend_sending
        self.summary.recovered_uncertain = self.ledger.recover_sending(
            self.job.id,
            event=Event.FOUND_SENDING_RESENT if resend else Event.FOUND_SENDING,
            expired_only=self.options.shared,
            resend_limit=self.options.resend_limit,
        )
        budget = self.options.shared and self.options.limit is not None
        if budget and self.options.limit is not None:  # a test send: N rows for the job, not per worker
            self.ledger.join_budget(self.job.id, self.worker_id, self.options.limit, live_within=self.options.lease_ttl)
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
        in_flight = claimed_so_far = 0
        exhausted = False
        abandoned = False
        # Claimed rows wait in the work queue for a free worker; a crash turns them uncertain even
        # though they were never sent, so keep that queue short (a quarter of the concurrency).
        target = self.options.concurrency + (self.options.claim_ahead or max(1, self.options.concurrency // 4))
        try:
            while True:
                if stop.is_set() and not self.halt.is_set():
                    self._stop(
                        ExitReason.INTERRUPTED, "interrupted; rows in flight were recorded, the rest are pending"
                    )
                finished = self._drain(block=in_flight > 0 and (exhausted or self.halt.is_set() or in_flight >= target))
                in_flight -= len(finished)
                settlements = [s for s in map(self._settlement, finished) if s is not None]
                unsent = [d.row.row_id for d in finished if d.reply is None]
                if any(s.event is Event.AMBIGUOUS_RESENT for s in settlements):
                    exhausted = False  # rows came back to pending (resend mode): claim them again
                if self.options.limit is not None and claimed_so_far >= self.options.limit:
                    exhausted = True  # a test send: its rows are all out; finish them, then stop
                want = 0 if self.halt.is_set() or exhausted else target - in_flight
                if self.options.limit is not None:
                    want = min(want, self.options.limit - claimed_so_far)
                if self.fates.lost:  # the ledger is gone: keep what became of them, claim nothing
                    self.fates.keep(settlements, unsent)
                elif settlements or unsent or want > 0:
                    claimed = self._commit(settlements, unsent, want, budget=budget)
                    if claimed is None:
                        continue  # the ledger was lost: what became of the rows is kept in fates
                    if want > 0 and claimed < want:
                        exhausted = True
                    in_flight += claimed
                    claimed_so_far += claimed
                if in_flight == 0 and (exhausted or self.halt.is_set()):
                    if self.halt.is_set() or not self.options.shared:
                        break
                    try:
                        if not self._dead_workers_rows(stop):
                            break
                    except LEDGER_ERRORS as exc:
                        self._lose_ledger(exc)
                        break
                    exhausted = False  # a dead worker's rows were taken over: resent ones are pending again
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
        try:
            self.summary.counts = self.ledger.counts(self.job.id)
        except LEDGER_ERRORS as exc:
            log.error("could not read the job's counts from the ledger: %s", type(exc).__name__)
        return self.summary

    def _commit(self, settlements: list[Settlement], unsent: list[int], want: int, *, budget: bool) -> int | None:
        """One commit: outcomes become durable before they are reported, and the next ``want`` rows
        become 'sending' before any worker can send them (queued for the workers). Returns how many
        rows were claimed; None when the ledger could not be written (its fates are kept)."""
        try:
            settled = self.ledger.settle(
                self.job.id,
                settlements,
                unsent,
                want,
                owner=self.worker_id,
                lease_ttl=self.options.lease_ttl,
                review=self.options.review,
                budget=budget,
            )
        except LEDGER_ERRORS as exc:
            self.fates.keep(settlements, unsent)
            self._lose_ledger(exc)
            return None
        self._note_conflicts(settled.conflicts)
        self.summary.suppressed += settled.suppressed
        for reason, count in settled.suppressed_by.items():
            self.summary.suppressed_by[reason] = self.summary.suppressed_by.get(reason, 0) + count
        for row in settled.claimed:
            self._work.put(row)
        if settlements and self.on_progress is not None:
            self.summary.pace, self.summary.configured_rate = self.pacer.rate, self.pacer.limit
            self.summary.slowed_by = self.pacer.slowed_by()
            self.on_progress(self.summary)
        return len(settled.claimed)

    def _dead_workers_rows(self, stop: threading.Event) -> bool:
        """Many workers: before this one exits, wait for the rows other workers hold ``sending`` whose
        leases are not being renewed (their worker died or froze) and take them over as they expire
        (found_sending, as at a start), so a job is never left with rows ``sending`` and no live
        worker. A row whose lease is renewed meanwhile belongs to a live worker, which does the same
        before it exits. Returns True when rows were taken over (False: none to wait for)."""
        first_seen: dict[int, float | None] = {}
        took = 0
        resend = self.options.on_ambiguous == "resend" or self.options.unsafe_resend_sending
        while not stop.is_set():
            others = self.ledger.others_sending(self.job.id, self.worker_id)
            for row_id, expires in others.items():
                first_seen.setdefault(row_id, expires)
            dead = {
                row_id: expires
                for row_id, expires in others.items()
                if expires is None or first_seen[row_id] is None or expires <= (first_seen[row_id] or 0)
            }
            if not dead:
                break
            soonest = min((e for e in dead.values() if e is not None), default=time.time())
            log.info(
                "%d row(s) of a worker that stopped renewing its leases are still sending; waiting %.0fs "
                "for the first lease to run out, to take them over",
                len(dead),
                max(0.0, soonest - time.time()),
            )
            stop.wait(min(max(0.2, soonest - time.time() + 0.2), self.options.lease_ttl / 3))
            moved = self.ledger.recover_sending(
                self.job.id,
                event=Event.FOUND_SENDING_RESENT if resend else Event.FOUND_SENDING,
                expired_only=True,
                resend_limit=self.options.resend_limit,
            )
            if moved:
                log.warning("%d row(s) of a dead worker found sending: taken over", moved)
                self.summary.recovered_uncertain += moved
                took += moved
        return took > 0

    def _lose_ledger(self, exc: BaseException) -> None:
        """The ledger did not take a write: stop claiming, keep every row's fate, write it later."""
        self.fates.lost = True
        self._stop(
            ExitReason.LEDGER_LOST,
            f"the ledger stopped answering ({type(exc).__name__}); this worker stopped claiming and keeps "
            f"what became of each row it claimed (sent with its reply, or never sent) until the ledger "
            f"takes it (for up to {self.options.ledger_wait:g}s, --ledger-wait)",
        )

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
            settlements = [s for s in map(self._settlement, leftover) if s is not None]
            self.fates.keep(settlements, [d.row.row_id for d in leftover if d.reply is None])
            leftover = self._drain(block=False)
        beating.set()
        heart.join()
        # Every fate into the ledger (retried with backoff if it is lost, up to --ledger-wait), and
        # every row this worker claimed but never sent back to pending, even one found sending meanwhile.
        written = self.fates.write()
        self._note_conflicts(written.conflicts)
        if written.given_up:
            self._stop(ExitReason.LEDGER_LOST, written.given_up)
        try:
            self.ledger.stop_worker(self.worker_id, sent=self.summary.sent)
        except Exception as exc:  # signing off is a courtesy: what was sent is already recorded
            log.warning("could not mark worker %s stopped: %s", self.worker_id, exc)

    def _heartbeat(self, done: threading.Event) -> None:
        """Renew this worker's leases; with many workers, turn dead workers' rows uncertain.

        A worker that cannot renew its leases for two heartbeats in a row can no longer prove it
        is alive: it stops claiming, finishes and records what is in flight, and ends the run.
        """
        interval = self.options.lease_ttl / 3
        last_sent, last_time = 0, time.monotonic()
        while not done.wait(interval):
            now = time.monotonic()
            sent = self.summary.sent
            rate = (sent - last_sent) / (now - last_time) if now > last_time else 0.0
            last_sent, last_time = sent, now
            try:
                if self._leases_lost():
                    # Renewing now would not give back rows another worker has already taken over.
                    self._stop(ExitReason.LEDGER_LOST, self._lost_message())
                    return
                self.ledger.heartbeat(
                    self.worker_id,
                    sent=sent,
                    rate=rate,
                    lease_ttl=self.options.lease_ttl,
                    slowed_by=self.pacer.slowed_by(),
                )
                self._last_beat = now
                if self.options.shared:
                    recovered = self.ledger.recover_sending(self.job.id, expired_only=True)
                    if recovered:
                        log.warning("%d row(s) of a dead worker found sending: now uncertain", recovered)
                        self.summary.recovered_uncertain += recovered
            except Exception as exc:
                silent_for = time.monotonic() - self._last_beat
                log.error("heartbeat failed (%s: %s), %.0fs since the last one", type(exc).__name__, exc, silent_for)
                if silent_for >= 2 * interval:
                    self._stop(
                        ExitReason.LEDGER_LOST,
                        f"the ledger did not take this worker's heartbeat for {silent_for:.0f}s "
                        f"({type(exc).__name__}); stopped claiming, in-flight rows recorded where possible",
                    )
