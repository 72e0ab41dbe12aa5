"""``run``, ``retry`` and ``cancel``: sending a job, and putting rows back or aside."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from batchqueue.cli.calling_options import calling_options, rule_option, state_rule_texts
from batchqueue.cli.options import (
    FiniteFloat,
    ca_bundle_option,
    db_option,
    job_argument,
    json_option,
    quiet_option,
    settings,
)
from batchqueue.cli.output import emit_json, stderr_console
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import EnvironmentFailure, InsightError, UsageError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from batchqueue.service.sending import Holds, Preview, RunStart, RunSummary


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """First Ctrl-C (or SIGTERM): stop claiming, finish what is in flight. A second: stop at once."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo("stopping: finishing the requests in flight (Ctrl-C again to quit at once)", err=True)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _duration(seconds: float) -> str:
    """A wait as people say it: 2h05m, 4m10s, 12s."""
    s = max(0, int(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


#: The window the progress line's rate and ETA are measured over.
_RECENT_SECONDS = 15.0
_CAUSES = {"429": "429 from Insight", "retry_after": "Insight's Retry-After", "5xx": "5xx burst"}


def _pace_text(recent: float, s: RunSummary) -> str:
    """``23.5/s of 50/s, slowed: 429 from Insight`` — the rate now, the rate asked, and why lower."""
    asked = f"{s.configured_rate:g}/s" if s.configured_rate else "no limit"
    text = f"{recent:.1f}/s of {asked}"
    if s.slowed_by:
        text += f", slowed: {_CAUSES.get(s.slowed_by, s.slowed_by)}"
    return text


def _describe(summary: RunSummary) -> str:
    c = summary.counts
    rate = summary.sent / summary.seconds if summary.seconds else 0.0
    return (
        f"job {summary.job_id}: sent {summary.sent} in {summary.seconds:.1f}s ({rate:.1f}/s) — "
        f"queued {c.get('queued', 0)}, failed {c.get('failed', 0)}, uncertain {c.get('uncertain', 0)}, "
        f"pending {c.get('pending', 0)}"
        + "".join(f"; {_SUPPRESSED[reason].format(n=n)}" for reason, n in sorted(summary.suppressed_by.items()) if n)
    )


#: The run summary's words for rows suppressed as they were claimed, by reason.
_SUPPRESSED = {
    "dnc": "{n} found on a do-not-call list and suppressed",
    "recontact": "{n} suppressed by re-contact protection (another job called the number within its limit)",
    "max-contacts": "{n} suppressed by the job's contact cap (max-contacts)",
}


def _show_preview(found: Preview, as_json: bool) -> None:
    if as_json:
        emit_json(found.as_json())
        return
    from batchqueue.service.values import printable

    click.echo(f"dry run of job {found.job_id}: nothing is sent, nothing changes in the ledger")
    if found.suppressed:
        click.echo(
            f"{found.suppressed} row(s) on the way would be suppressed (a do-not-call list, re-contact "
            "protection or the job's contact cap)"
        )
    if found.held:
        click.echo(f"{found.held} row(s) on the way would be held: {found.holds.reasons() or 'by a send-time rule'}")
    if not found.rows:
        click.echo("no row would be sent now")

    from batchqueue.service.zones import display_zone
    from batchqueue.service.zones import zone as tzinfo_of

    for row in found.rows:
        local = tzinfo_of(display_zone(row.timezone, row.timezone_source)) if row.timezone else None
        zone = f" (contact's time zone {row.timezone}, from the {row.timezone_source})" if row.timezone else ""
        click.echo(f"row {row.row_number}{zone}:")
        if row.places:
            states = f"; states {row.states}" if row.states else ""
            click.echo(f"  where it may be: {printable(row.places)}{states}")
        for name, value in row.fields:
            when = ""
            if name in ("start_timestamp", "end_timestamp") and value.isdigit():
                when = "  (" + datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                if local is not None:
                    when += datetime.fromtimestamp(int(value), local).strftime(", %Y-%m-%d %H:%M %Z local")
                when += ")"
            click.echo(f"  {name} = {printable(value)}{when}")  # cells may hold escapes or newlines


def _started(start: RunStart, bar: _RunBar, as_json: bool) -> None:
    """Before the first request: the rules this run keeps on the job, then the progress bar."""
    if start.rules_kept and not as_json:
        job = start.job.id
        click.echo(f"this run's rules, kept on job {job} for its next runs: {', '.join(start.rules_kept)}")
    bar.start(start)


def _show_run(summary: RunSummary, as_json: bool) -> None:
    if as_json:
        emit_json(summary.as_dict())
        return
    if summary.recovered_uncertain:
        click.echo(
            f"{summary.recovered_uncertain} row(s) were left 'sending' by an earlier run and are now uncertain "
            f"(it may or may not have sent them): `batchqueue reconcile {summary.job_id}` lists those no callback "
            "proved queued, and resends them only when asked",
            err=True,
        )
    click.echo(_describe(summary))
    for conflict in summary.conflicts:
        click.echo(f"conflict: {conflict}", err=True)
    if summary.held:
        click.echo(f"{summary.holds.describe()}; they stay pending", err=True)
    if summary.held and summary.next_window_at is not None:
        opens = datetime.fromtimestamp(summary.next_window_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        left = _duration(summary.next_window_at - datetime.now(UTC).timestamp())
        click.echo(
            f"the first may be tried {opens} (in {left}): "
            f"run `batchqueue run {summary.job_id} --hold-until-window` again then, or add --wait-for-window",
            err=True,
        )
    if summary.exit_reason.value == "interrupted":  # a deliberate Ctrl-C (or SIGTERM): nothing to fix
        click.echo(
            "paused (Ctrl-C): the requests in flight were finished and recorded; "
            f"run `batchqueue run {summary.job_id}` again to send the rest",
            err=True,
        )
    elif summary.exit_reason.value != "done":
        click.echo(f"stopped ({summary.exit_reason.value}): {summary.message}", err=True)
        click.echo(f"fix the cause, then run `batchqueue run {summary.job_id}` again to resume", err=True)


class _RunBar:
    """The run's progress bar on stderr (only on a terminal)."""

    def __init__(self, stack: ExitStack, show: bool) -> None:
        self.stack, self.show = stack, show
        self.bar: Any = None
        self.task: Any = None
        self.total = 0
        self._recent: deque[tuple[float, int]] = deque()  # (when, rows sent) over the last seconds
        self._logged_wait_at: float | None = None

    def start(self, start: RunStart) -> None:
        # The target itself is logged by the service (at info, on stderr) before the first request.
        if not self.show:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = self.stack.enter_context(
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[pace]}"),
                TextColumn("ETA {task.fields[eta]}"),
                console=stderr_console(),
                transient=True,
            )
        )
        self.total = start.pending
        self.task = self.bar.add_task(f"job {start.job.id}", total=start.pending, pace="", eta="?")

    def waiting(self, seconds: float, holds: Holds) -> None:
        """The countdown to the first held row's time, with why rows are held (on a terminal;
        logged otherwise)."""
        left = _duration(seconds)
        if self.bar is not None:
            self.bar.update(self.task, description=f"waiting {left}: {holds.describe()}")
        elif self._logged_wait_at is None or self._logged_wait_at - seconds >= 600 or seconds > self._logged_wait_at:
            self._logged_wait_at = seconds  # a line when a wait starts, then every ten minutes
            log.info("waiting %s: %s", left, holds.describe())

    def update(self, s: RunSummary) -> None:
        if self.bar is None:
            return
        t = s.this_run
        now = time.monotonic()
        self._recent.append((now, s.sent))
        while len(self._recent) > 2 and now - self._recent[0][0] > _RECENT_SECONDS:
            self._recent.popleft()
        first_at, first_sent = self._recent[0]
        recent = (s.sent - first_sent) / (now - first_at) if now > first_at else 0.0
        left = max(0, (self.total or 0) - s.sent)
        eta = _duration(left / recent) if recent > 0 else "?"
        self.bar.update(
            self.task,
            completed=s.sent,
            description=f"job {s.job_id} queued {t['queued']} failed {t['rejected']} uncertain {t['ambiguous']}",
            pace=_pace_text(recent, s),
            eta=eta,
        )


@click.command()
@job_argument
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=DEFAULTS.concurrency,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--rate",
    type=FiniteFloat(0),
    default=DEFAULTS.rate,
    show_default=True,
    help="Requests per second across the run (0 = no limit). Insight warns that looping too fast "
    "makes all calls fail; raise it knowingly.",
)
@click.option(
    "--on-ambiguous",
    type=click.Choice(["hold", "resend"]),
    default=DEFAULTS.on_ambiguous,
    show_default=True,
    help="A reply that may or may not have queued a call: hold the row as uncertain (at most once), "
    "or resend it (at least once: someone may be called twice).",
)
@click.option("--public-url", help="Where Insight can reach `batchqueue serve`; each row's result_url is built on it.")
@click.option(
    "--breaker",
    type=click.IntRange(1),
    default=DEFAULTS.breaker,
    show_default=True,
    help="Stop after this many ambiguous replies in a row.",
)
@click.option("--connect-timeout", type=FiniteFloat(0.1), default=DEFAULTS.connect_timeout, show_default=True)
@click.option("--read-timeout", type=FiniteFloat(0.1), default=DEFAULTS.read_timeout, show_default=True)
@click.option(
    "--retries",
    type=click.IntRange(1, 20),
    default=DEFAULTS.retries,
    show_default=True,
    help="Attempts for a request that never reached Insight or got 429.",
)
@click.option(
    "--lease-ttl",
    type=FiniteFloat(3),
    default=DEFAULTS.lease_ttl,
    show_default=True,
    help="Seconds a worker's claim on a row lasts without a heartbeat (PostgreSQL, many workers).",
)
@click.option(
    "--ledger-wait",
    type=FiniteFloat(0),
    default=DEFAULTS.ledger_wait,
    show_default=True,
    help="Seconds a worker that lost its ledger keeps trying (with backoff) to write what became of the "
    "rows it claimed, before it exits.",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    help="A test send: send at most N rows, then stop (with --dry-run: how many rows to show, default 10).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the exact request fields (window included) of the next rows; send nothing, change nothing.",
)
@calling_options
@rule_option
@click.option(
    "--widen-rules",
    "--widen-calling-rules",
    "widen_calling_rules",
    is_flag=True,
    help="Let this run's rules (--calling-hours…, --rule NAME=VALUE) replace the job's (by default they only "
    "narrow them). Either way they are kept on the job for its next runs.",
)
@click.option(
    "--hold-until-window",
    is_flag=True,
    help="Keep a row pending until its calling window opens, instead of sending it scheduled ahead.",
)
@click.option(
    "--wait-for-window",
    is_flag=True,
    help="With --hold-until-window: when only held rows are left, wait (with a countdown) and go on.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve the run's metrics (Prometheus text format, /metrics) on this port while it runs.",
)
@click.option("--metrics-host", default=DEFAULTS.serve_host, show_default=True, help="Address of --metrics-port.")
@click.option("--unsafe-resend-sending", is_flag=True, hidden=True)
@ca_bundle_option
@db_option
@json_option
@quiet_option
def run(
    job_id: int,
    concurrency: int,
    rate: float,
    on_ambiguous: str,
    public_url: str | None,
    breaker: int,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
    lease_ttl: float,
    ledger_wait: float,
    limit: int | None,
    dry_run: bool,
    calling_hours: str | None,
    calling_days: str | None,
    holidays: str | None,
    blackout: tuple[str, ...],
    state_rules: str | None,
    outside_federal_hours: bool,
    rule_args: tuple[str, ...],
    widen_calling_rules: bool,
    hold_until_window: bool,
    wait_for_window: bool,
    metrics_port: int | None,
    metrics_host: str,
    unsafe_resend_sending: bool,
    ca_bundle: str | None,
    profile: str | None,
    db: str | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Send JOB's pending rows to Insight; safe to interrupt and run again.

    Rules given to a run (--calling-hours…, --rule NAME=VALUE) narrow the job's and are kept on it
    for its next runs; a rule that would widen them is refused unless --widen-rules is given.
    """
    from batchqueue.exits import exit_code_for
    from batchqueue.service.rules import given_rules
    from batchqueue.service.sending import DRY_RUN_ROWS, RunRequest, preview
    from batchqueue.service.sending import run as send

    request = RunRequest(
        job_id,
        concurrency=concurrency,
        rate=rate,
        on_ambiguous=on_ambiguous,
        public_url=public_url,
        breaker=breaker,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries=retries,
        lease_ttl=lease_ttl,
        ledger_wait=ledger_wait,
        limit=limit,
        unsafe_resend_sending=unsafe_resend_sending,
        calling_hours=calling_hours,
        calling_days=calling_days,
        holidays=holidays,
        blackout=blackout,
        widen_calling=widen_calling_rules,
        rules=given_rules(state_rule_texts(state_rules, outside_federal_hours), rule_args),
        hold_until_window=hold_until_window or wait_for_window,
        wait_for_window=wait_for_window,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )
    if dry_run:
        _show_preview(preview(settings(db, ca_bundle, profile), request, limit or DRY_RUN_ROWS), as_json)
        return 0
    with ExitStack() as stack:
        stop = stack.enter_context(stop_on_signals())
        bar = _RunBar(stack, show=not (quiet or as_json) and sys.stderr.isatty())
        try:
            summary = send(
                settings(db, ca_bundle, profile),
                request,
                stop=stop,
                on_start=lambda start: _started(start, bar, as_json),
                on_progress=bar.update,
                on_wait=bar.waiting,
            )
        except (InsightError, EnvironmentFailure) as stopped:
            if stopped.result is None:
                raise
            _show_run(stopped.result, as_json)  # type: ignore[arg-type]
            return exit_code_for(stopped)
    _show_run(summary, as_json)
    return summary.exit_code


@click.command()
@job_argument
@click.option("--status-code", type=click.IntRange(100, 599), help="Only failed rows that got this HTTP status.")
@click.option("--error-contains", help="Only failed rows whose error contains this text.")
@click.option(
    "--uncertain",
    "include_uncertain",
    is_flag=True,
    help="Also uncertain rows. They may already have been called: needs --confirm-may-call-twice.",
)
@click.option("--confirm-may-call-twice", is_flag=True, help="Confirm resending uncertain rows.")
@db_option
@json_option
def retry(
    job_id: int,
    status_code: int | None,
    error_contains: str | None,
    include_uncertain: bool,
    confirm_may_call_twice: bool,
    db: str | None,
    as_json: bool,
) -> int:
    """Put JOB's failed rows (and, explicitly, uncertain ones) back to pending."""
    from batchqueue.service.rows import RetryRequest
    from batchqueue.service.rows import retry as put_back

    request = RetryRequest(job_id, status_code, error_contains, include_uncertain, confirm_may_call_twice)
    done = put_back(settings(db), request)
    if as_json:
        emit_json({"job_id": job_id, "retried": done.changed, "counts": done.counts})
    else:
        click.echo(f"job {job_id}: {done.changed} row(s) back to pending; run `batchqueue run {job_id}` to send them")
    return 0


@click.command()
@job_argument
@click.option(
    "--remote", is_flag=True, help="Also ask Insight to cancel ALL pending calls of the job's survey instance."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@ca_bundle_option
@db_option
@json_option
def cancel(
    job_id: int, remote: bool, yes: bool, ca_bundle: str | None, profile: str | None, db: str | None, as_json: bool
) -> int:
    """Mark JOB's pending rows canceled (they will not be sent; `uncancel` puts them back).

    On a terminal it asks first; --yes skips the question (scripts).
    """
    from batchqueue.service.rows import CancelRequest, cancel_question, remote_cancel_warning
    from batchqueue.service.rows import cancel as cancel_rows

    current = settings(db, ca_bundle, profile)
    if not yes and not remote and sys.stdin.isatty() and not click.confirm(cancel_question(current, job_id), err=True):
        raise UsageError("not confirmed: nothing was canceled")
    if remote and not yes:
        warning = remote_cancel_warning(current, job_id)
        if not sys.stdin.isatty():
            raise UsageError(f"--remote: {warning} Add --yes to confirm.")
        if not click.confirm(warning, err=True):
            raise UsageError("not confirmed: nothing was canceled")
    done = cancel_rows(current, CancelRequest(job_id, remote))
    if as_json:
        emit_json(
            {"job_id": job_id, "canceled": done.canceled, "remote_status": done.remote_status, "counts": done.counts}
        )
    else:
        click.echo(
            f"job {job_id}: {done.canceled} pending row(s) canceled"
            + ("; Insight accepted the cancel" if remote else "")
        )
    return 0


@click.command()
@job_argument
@db_option
@json_option
def uncancel(job_id: int, db: str | None, as_json: bool) -> int:
    """Put JOB's canceled rows (never sent) back to pending."""
    from batchqueue.service.rows import uncancel as put_back

    done = put_back(settings(db), job_id)
    if as_json:
        emit_json({"job_id": job_id, "uncanceled": done.changed, "counts": done.counts})
    else:
        click.echo(
            f"job {job_id}: {done.changed} canceled row(s) back to pending; `batchqueue run {job_id}` sends them"
        )
    return 0


COMMANDS = [run, retry, cancel, uncancel]
