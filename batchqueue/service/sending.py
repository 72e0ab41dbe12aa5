"""``run``: send a job's pending rows to Insight, with every guarantee of the commit protocol."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from batchqueue.calling import send_rules
from batchqueue.calling.registry import STATE_RULES, apply_run_rules, job_calling_rules
from batchqueue.calling.review import CallingReview, then
from batchqueue.calling.state_caps import BUILT_IN as STATE_CAPS_ON
from batchqueue.calling.state_rules import BUILT_IN as STATE_RULES_ON
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import ApiUnavailableError, BatchFatalError, EnvironmentFailure, UsageError
from batchqueue.exits import ExitReason
from batchqueue.holds import Holds as Holds
from batchqueue.insight.form import FormBuilder
from batchqueue.insight.retry import RetryPolicy
from batchqueue.ledger import ClaimReview, Job
from batchqueue.logs import log_context
from batchqueue.sending.locks import RunLock
from batchqueue.sending.submitter import RunOptions, Submitter
from batchqueue.sending.submitter import RunSummary as RunSummary
from batchqueue.service.app import Face
from batchqueue.service.context import insight_client, ledger_for, target_of
from batchqueue.settings import base_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """How to send one job."""

    job_id: int
    concurrency: int = DEFAULTS.concurrency
    rate: float = DEFAULTS.rate
    on_ambiguous: str = DEFAULTS.on_ambiguous
    public_url: str | None = None
    breaker: int = DEFAULTS.breaker
    connect_timeout: float = DEFAULTS.connect_timeout
    read_timeout: float = DEFAULTS.read_timeout
    retries: int = DEFAULTS.retries
    lease_ttl: float = DEFAULTS.lease_ttl
    ledger_wait: float = DEFAULTS.ledger_wait
    review: ClaimReview | None = None
    limit: int | None = None  # a test send: at most this many rows
    unsafe_resend_sending: bool = False
    #: This run's calling rules (``run --calling-hours …``) and other named rules (``--rule NAME=VALUE``,
    #: those that run in the claim): they narrow the job's, or with ``widen_calling`` replace them;
    #: either way they are kept on the job for its next runs (:func:`batchqueue.calling.registry.apply_run_rules`).
    calling_hours: str | None = None
    calling_days: str | None = None
    holidays: str | None = None
    blackout: tuple[str, ...] = ()
    widen_calling: bool = False
    rules: Mapping[str, str] = field(default_factory=dict)
    #: Keep a row pending until its calling window opens, instead of sending it scheduled ahead.
    hold_until_window: bool = False
    #: With held rows left: sleep until the next window opens and go on (else stop and say when).
    wait_for_window: bool = False
    #: Serve the run's metrics (Prometheus text format) on this port while it runs (0: any free port).
    metrics_port: int | None = None
    metrics_host: str = DEFAULTS.serve_host


def _wait_until(holds: Holds, stop: threading.Event | None, on_wait: Callable[[float, Holds], None] | None) -> bool:
    """Sleep until the first held row may be tried; False when stopped first."""
    stop = stop or threading.Event()
    at = holds.next_at
    while at is not None and (left := at - time.time()) > 0:
        if on_wait is not None:
            on_wait(left, holds)
        if stop.wait(min(1.0, left)):
            return False
    return True


def _with_own(calling: CallingReview, job: Job, request: RunRequest) -> ClaimReview:
    """The calling windows, then every run's send-time rules (``calling/send_rules``) that apply to
    the job, then the request's own send-time rule if it has one."""
    review: ClaimReview = calling
    for rule in [*send_rules.for_job(job), *([request.review] if request.review else [])]:
        review = then(review, rule)
    return review


def _calling(job: Job, request: RunRequest) -> CallingReview:
    """The calling windows of a run: the job's rules, and those runs kept on it (this one's included)."""
    rule_sets = job_calling_rules(job.options)
    return CallingReview(rule_sets, job.options.get("default_timezone"), request.hold_until_window)


def _with_run_rules(job: Job, request: RunRequest) -> tuple[Job, list[str]]:
    """The job as this run applies it: its rules with the run's (narrowing, or replacing with
    ``widen_calling``), and the changes in words. A job imported before the state caps gets them."""
    texts = {
        name: value
        for name, value in (
            ("calling-hours", request.calling_hours),
            ("days", request.calling_days),
            ("holidays", request.holidays),
            ("blackout", ",".join(request.blackout)),
        )
        if value
    }
    both = sorted(set(texts) & set(request.rules))
    if both:
        raise UsageError(f"{both[0]} is given twice (--{both[0]} and --rule {both[0]}=…)")
    texts |= dict(request.rules)
    if "state_caps" not in job.options and "state-caps" not in texts:
        texts["state-caps"] = STATE_CAPS_ON  # imported before state caps: every run applies them now
    if STATE_RULES not in job.options and "state-rules" not in texts:
        texts["state-rules"] = STATE_RULES_ON  # imported before the state rules: every run applies them now
    if not texts:
        if request.widen_calling:
            raise UsageError(
                "--widen-rules: give the rules that replace the job's (--calling-hours, --rule NAME=VALUE…)"
            )
        return job, []
    changed = apply_run_rules(job.id, job.options, texts, widen=request.widen_calling)
    return replace(job, options=changed.options), changed.changes


#: Rows ``run --dry-run`` shows when not told how many.
DRY_RUN_ROWS = 10


@dataclass(frozen=True)
class PreviewRow:
    """A row the next claim would send, and the form fields it would be sent with."""

    row_number: int
    fields: list[tuple[str, str]]
    #: The zone(s) its calling window was set in, and which source(s) named them.
    timezone: str = ""
    timezone_source: str = ""
    #: Every US state its contact may be in ("FL NY"), and what each source named.
    states: str = ""
    places: str = ""

    @property
    def local_zone(self) -> str | None:
        """The one zone its window is shown in (the first of several), None without one."""
        from batchqueue.places.contacts import display_zone

        return display_zone(self.timezone, self.timezone_source) if self.timezone else None


@dataclass(frozen=True)
class Preview:
    """What ``run --dry-run`` found: the next rows' requests, and rows the rules would stop."""

    job_id: int
    rows: list[PreviewRow]
    suppressed: int
    held: int
    holds: Holds = field(default_factory=Holds)

    def as_json(self) -> dict[str, Any]:
        """The dry run as ``run --dry-run --json`` and the console's API give it."""
        return {
            "job_id": self.job_id,
            "rows": [
                {
                    "row": r.row_number,
                    "fields": dict(r.fields),
                    "timezone": r.timezone,
                    "timezone_source": r.timezone_source,
                    "states": r.states.split(),
                    "places": r.places,
                }
                for r in self.rows
            ],
            "suppressed": self.suppressed,
            "held": self.held,
            "holds": self.holds.as_json(),
        }


def preview(app: Face, request: RunRequest, count: int = DRY_RUN_ROWS) -> Preview:
    """The exact requests of the next ``count`` rows — do-not-call lists and send-time rules
    applied, as the claim would apply them — from a claim that is rolled back: nothing is sent,
    nothing changes. A row's callback token is shown as ``<token>`` (it is a secret)."""
    with ledger_for(app) as ledger:
        job, _ = _with_run_rules(ledger.job(request.job_id), request)  # applied, not kept: a dry run changes nothing
        public_url = request.public_url
        public_url = base_url(public_url, where="--public-url") if public_url else job.options.get("public_url")
        calling = _calling(job, request)
        found = ledger.preview_claim(job.id, count, review=_with_own(calling, job, request))
    form = FormBuilder(job.headers, list(job.mapping.get("metadata", [])), public_url)
    rows = []
    for row in found.claimed:
        fields = form.form(row)
        if row.token:
            fields = [(name, value.replace(row.token, "<token>")) for name, value in fields]
        contact = calling.contact(row)
        rows.append(
            PreviewRow(
                row.row_number, fields, contact.label, contact.source, " ".join(contact.states), contact.places_text
            )
            if contact
            else PreviewRow(row.row_number, fields)
        )
    return Preview(job.id, rows, found.suppressed, found.held, found.holds)


@dataclass(frozen=True)
class RunStart:
    """What a front end may show before the first request leaves."""

    job: Job
    pending: int
    target: str
    rate: float
    #: The run's rules, now kept on the job for its next runs (in words; empty when it gave none).
    rules_kept: list[str] = field(default_factory=list)


def _log_held(summary: RunSummary) -> None:
    if not summary.held:
        return
    released = summary.next_window_at
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(released)) if released is not None else "never"
    why = summary.holds.describe()
    log.info("%s; the first is released %s", why, when, extra={"event": "hold"})


def run(
    app: Face,
    request: RunRequest,
    *,
    stop: threading.Event | None = None,
    on_start: Callable[[RunStart], None] | None = None,
    on_progress: Callable[[RunSummary], None] | None = None,
    on_wait: Callable[[float, Holds], None] | None = None,
) -> RunSummary:
    """Send the job's pending rows; resumable, never sends a row twice.

    Rows held outside their calling window stay pending; with ``wait_for_window`` the run sleeps
    until the next window opens (``on_wait`` is told the seconds left and why rows are held, about
    once a second) and
    goes on, until no row is pending or it is stopped.

    Returns the summary when the run finished or was interrupted; raises :class:`BatchFatalError`
    (a batch-fatal reply), :class:`ApiUnavailableError` (unreachable, or the circuit breaker) or
    :class:`EnvironmentFailure` (the ledger lost), each carrying the summary as ``result``.
    """
    if request.on_ambiguous not in ("hold", "resend"):
        raise UsageError(f"--on-ambiguous must be hold or resend, got {request.on_ambiguous!r}")
    with ledger_for(app, writing=True) as ledger, ExitStack() as stack:
        stack.enter_context(log_context(job=request.job_id, event="run"))
        stored = ledger.job(request.job_id)
        if stored.archived_at is not None:  # refused before this run's rules are kept on it
            raise UsageError(
                f"job {stored.id} is archived; `batchqueue job unarchive {stored.id}` first if its rows are to be sent"
            )
        job, kept = _with_run_rules(stored, request)
        for key in sorted(k for k in job.options if job.options[k] != stored.options.get(k)):
            ledger.set_job_option(job.id, key, job.options[key])  # kept: before the first claim reads them
        if kept:
            log.info("job %d: this run's rules, kept on the job for its next runs: %s", job.id, ", ".join(kept))
        public_url = request.public_url
        if public_url is not None:
            public_url = base_url(public_url, where="--public-url")
            ledger.set_job_option(job.id, "public_url", public_url)
        else:
            public_url = job.options.get("public_url")
        shared = ledger.backend != "sqlite"  # many workers may share a PostgreSQL ledger
        if ledger.path:
            stack.enter_context(RunLock(Path(ledger.path), job.id))
        client = insight_client(
            app,
            pool_size=request.concurrency,
            connect_timeout=request.connect_timeout,
            read_timeout=request.read_timeout,
        )
        stack.callback(client.close)
        options = RunOptions(
            concurrency=request.concurrency,
            rate=request.rate,
            on_ambiguous=request.on_ambiguous,
            breaker=request.breaker,
            public_url=public_url,
            retry=RetryPolicy(attempts=request.retries),
            unsafe_resend_sending=request.unsafe_resend_sending,
            shared=shared,
            lease_ttl=request.lease_ttl,
            ledger_wait=request.ledger_wait,
            review=_with_own(_calling(job, request), job, request),
            limit=request.limit,
        )
        target = target_of(app, job)
        pending = ledger.counts(job.id)["pending"]
        log.info(
            "job %d: sending %d pending row(s) to %s, at %s",
            job.id,
            pending,
            target,
            f"{request.rate:g} requests/s" if request.rate else "no rate limit",
        )
        if on_start is not None:
            on_start(RunStart(job, pending, target, request.rate, kept))
        ledger.release_holds(job.id)  # rows held by an earlier run: this run's rules decide anew
        current: list[Submitter] = []
        if request.metrics_port is not None:
            from batchqueue.http_serving import HttpServer  # only for --metrics-port: a run starts sooner
            from batchqueue.metrics import run_registry, wsgi_app

            server = HttpServer(
                wsgi_app(run_registry(lambda: current[-1] if current else None, ledger, job.id)),
                host=request.metrics_host,
                port=request.metrics_port,
                threads=2,
            ).start()
            stack.callback(server.stop)
            log.info("metrics of job %d's run on %s/metrics", job.id, server.url)
        while True:
            current.append(Submitter(ledger, client, job, options, on_progress=on_progress))
            summary = current[-1].run(stop)
            if summary.exit_reason is ExitReason.LEDGER_LOST:
                break  # the ledger may still be unreachable: nothing more to ask it
            summary.holds = ledger.holds(job.id, time.time())
            summary.held, summary.next_window_at = summary.holds.rows, summary.holds.next_at
            _log_held(summary)
            waiting = summary.held and summary.next_window_at is not None
            if not (request.wait_for_window and waiting and summary.exit_reason is ExitReason.DONE):
                break
            if request.limit is not None or not _wait_until(summary.holds, stop, on_wait):
                break
    if summary.exit_reason is ExitReason.FATAL_REPLY:
        raise BatchFatalError(summary.message, status=summary.fatal_status, result=summary)
    if summary.exit_reason in (ExitReason.UNREACHABLE, ExitReason.CIRCUIT_BREAKER):
        raise ApiUnavailableError(summary.message, result=summary)
    if summary.exit_reason is ExitReason.LEDGER_LOST:
        raise EnvironmentFailure(summary.message, result=summary)
    return summary
