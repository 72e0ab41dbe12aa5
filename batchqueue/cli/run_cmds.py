"""``run``, ``retry`` and ``cancel``: sending a job, and putting rows back or aside."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from batchqueue.cli.options import (
    FiniteFloat,
    ca_bundle_option,
    cli_ledger,
    db_option,
    job_argument,
    json_option,
    quiet_option,
)
from batchqueue.cli.output import emit_json, stderr_console
from batchqueue.errors import UsageError
from batchqueue.insight.client import InsightClient, ReplyKind
from batchqueue.insight.retry import RetryPolicy
from batchqueue.sending.locks import RunLock
from batchqueue.sending.submitter import RunOptions, RunSummary, Submitter
from batchqueue.settings import Settings, check_credentials

EXIT_FOR_REASON = {"fatal_reply": 3, "unreachable": 4, "circuit_breaker": 4, "internal_error": 4, "interrupted": 130}


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


def insight_client(settings: Settings, concurrency: int, connect_timeout: float, read_timeout: float) -> InsightClient:
    check_credentials(settings.user, settings.api_key)
    return InsightClient(
        settings.base_url,
        settings.user,
        settings.api_key,
        pool_size=concurrency,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        deadline=connect_timeout + read_timeout + 5,
        ca_bundle=settings.ca_bundle,
    )


def _describe(summary: RunSummary) -> str:
    c = summary.counts
    rate = summary.sent / summary.seconds if summary.seconds else 0.0
    return (
        f"job {summary.job_id}: sent {summary.sent} in {summary.seconds:.1f}s ({rate:.1f}/s) — "
        f"queued {c.get('queued', 0)}, failed {c.get('failed', 0)}, uncertain {c.get('uncertain', 0)}, "
        f"pending {c.get('pending', 0)}"
    )


@click.command()
@job_argument
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=4, show_default=True, help="Requests in flight at once."
)
@click.option(
    "--rate",
    type=FiniteFloat(0),
    default=5.0,
    show_default=True,
    help="Requests per second across the run (0 = no limit). Insight warns that looping too fast "
    "makes all calls fail; raise it knowingly.",
)
@click.option(
    "--on-ambiguous",
    type=click.Choice(["hold", "resend"]),
    default="hold",
    show_default=True,
    help="A reply that may or may not have queued a call: hold the row as uncertain (at most once), "
    "or resend it (at least once: someone may be called twice).",
)
@click.option("--public-url", help="Where Insight can reach `batchqueue serve`; each row's result_url is built on it.")
@click.option(
    "--breaker",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Stop after this many ambiguous replies in a row.",
)
@click.option("--connect-timeout", type=FiniteFloat(0.1), default=5.0, show_default=True)
@click.option("--read-timeout", type=FiniteFloat(0.1), default=30.0, show_default=True)
@click.option(
    "--retries",
    type=click.IntRange(1, 20),
    default=6,
    show_default=True,
    help="Attempts for a request that never reached Insight or got 429.",
)
@click.option(
    "--lease-ttl",
    type=FiniteFloat(3),
    default=60.0,
    show_default=True,
    help="Seconds a worker's claim on a row lasts without a heartbeat (PostgreSQL, many workers).",
)
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
    unsafe_resend_sending: bool,
    ca_bundle: str | None,
    db: str | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Send JOB's pending rows to Insight; safe to interrupt and run again."""
    settings = Settings.from_env(db=db, ca_bundle=ca_bundle)
    ledger = cli_ledger(settings.db_url)
    engine = ledger.engine
    job = ledger.job(job_id)
    if public_url and not public_url.startswith(("http://", "https://")):
        raise UsageError(f"--public-url must be an http(s) URL, got {public_url!r}")
    if public_url:
        ledger.set_job_option(job_id, "public_url", public_url)  # later runs reuse it
    public_url = public_url or job.options.get("public_url")
    shared = engine.url.get_backend_name() != "sqlite"  # many workers may share a PostgreSQL ledger
    options = RunOptions(
        concurrency=concurrency,
        rate=rate,
        on_ambiguous=on_ambiguous,
        breaker=breaker,
        public_url=public_url,
        retry=RetryPolicy(attempts=retries),
        unsafe_resend_sending=unsafe_resend_sending,
        shared=shared,
        lease_ttl=lease_ttl,
    )
    client = insight_client(settings, concurrency, connect_timeout, read_timeout)
    with ExitStack() as stack:
        if engine.url.get_backend_name() == "sqlite" and engine.url.database:
            stack.enter_context(RunLock(Path(engine.url.database)))
        stop = stack.enter_context(stop_on_signals())
        pending = ledger.counts(job_id)["pending"]
        show = not (quiet or as_json) and sys.stderr.isatty()
        bar = stack.enter_context(
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=stderr_console(),
                transient=True,
                disable=not show,
            )
        )
        task = bar.add_task(f"job {job_id}", total=pending)

        def progress(s: RunSummary) -> None:
            t = s.this_run
            bar.update(
                task,
                completed=s.sent,
                description=(
                    f"job {job_id} queued {t[ReplyKind.QUEUED.value]} failed {t[ReplyKind.REJECTED.value]} "
                    f"uncertain {t[ReplyKind.AMBIGUOUS.value]}"
                ),
            )

        summary = Submitter(ledger, client, job, options, on_progress=progress).run(stop)
        client.close()
    if as_json:
        emit_json(summary.as_dict())
    else:
        if summary.recovered_uncertain:
            click.echo(
                f"{summary.recovered_uncertain} row(s) were left 'sending' by an earlier run and are now "
                "uncertain: see `batchqueue retry --help`",
                err=True,
            )
        click.echo(_describe(summary))
        if summary.exit_reason != "done":
            click.echo(f"stopped ({summary.exit_reason}): {summary.message}", err=True)
            click.echo(f"fix the cause, then run `batchqueue run {job_id}` again to resume", err=True)
    if summary.exit_reason != "done":
        return EXIT_FOR_REASON[summary.exit_reason]
    return 1 if summary.counts.get("failed", 0) or summary.counts.get("uncertain", 0) else 0


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
    if include_uncertain and not confirm_may_call_twice:
        raise UsageError(
            "uncertain rows may already have been queued, so resending them may call someone twice; "
            "add --confirm-may-call-twice to do it anyway (or wait for callbacks to settle them)"
        )
    ledger = cli_ledger(Settings.from_env(db=db).db_url)
    ledger.job(job_id)
    count = ledger.retry_rows(
        job_id, uncertain=include_uncertain, status_code=status_code, error_contains=error_contains
    )
    counts = ledger.counts(job_id)
    if as_json:
        emit_json({"job_id": job_id, "retried": count, "counts": counts})
    else:
        click.echo(f"job {job_id}: {count} row(s) back to pending; run `batchqueue run {job_id}` to send them")
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
def cancel(job_id: int, remote: bool, yes: bool, ca_bundle: str | None, db: str | None, as_json: bool) -> int:
    """Mark JOB's pending rows canceled (they will not be sent)."""
    settings = Settings.from_env(db=db, ca_bundle=ca_bundle)
    ledger = cli_ledger(settings.db_url)
    job = ledger.job(job_id)
    if remote and not yes:
        warning = (
            f"Insight cancels ALL pending calls of survey {job.survey_id} instance {job.instance_id}, "
            "including calls queued by other jobs or tools. Continue?"
        )
        if not sys.stdin.isatty():
            raise UsageError(f"--remote: {warning} Add --yes to confirm.")
        if not click.confirm(warning, err=True):
            return 2
    count = ledger.cancel_pending(job_id)
    remote_status = None
    if remote:
        client = insight_client(settings, 1, 5.0, 30.0)
        reply = client.cancel_all(job.survey_id, job.instance_id)
        client.close()
        remote_status = reply.status
        if reply.kind is not ReplyKind.QUEUED:
            click.echo(
                f"job {job_id}: {count} pending row(s) were canceled in the ledger (they will not be sent), "
                f"but Insight did not cancel its queued calls: {reply.error}",
                err=True,
            )
            return 3 if reply.kind is ReplyKind.FATAL else 4
    if as_json:
        emit_json(
            {"job_id": job_id, "canceled": count, "remote_status": remote_status, "counts": ledger.counts(job_id)}
        )
    else:
        click.echo(
            f"job {job_id}: {count} pending row(s) canceled" + ("; Insight accepted the cancel" if remote else "")
        )
    return 0


COMMANDS = [run, retry, cancel]
