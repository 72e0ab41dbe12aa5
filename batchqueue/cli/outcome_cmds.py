"""``serve``, ``poll`` and ``reconcile``: learning what happened to queued calls."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from batchqueue.cli.options import (
    FiniteFloat,
    ca_bundle_option,
    db_option,
    job_argument,
    json_option,
    listen_options,
    settings,
)
from batchqueue.cli.output import check_writable, emit_json, write_port_file
from batchqueue.cli.run_cmds import stop_on_signals
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import InsightError


@click.command()
@listen_options(DEFAULTS.serve_port)
@click.option("--threads", type=click.IntRange(1, 256), default=DEFAULTS.serve_threads, show_default=True)
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where accepted callbacks are spooled until the ledger has them "
    "(default: beside an SQLite ledger, else ./batchqueue-callbacks).",
)
@db_option
def serve(host: str, port: int, port_file: Path | None, threads: int, spool_dir: Path | None, db: str | None) -> int:
    """Receive Insight's result_url callbacks and record each call's outcome in the ledger."""
    from batchqueue.service.outcomes import CALLBACK_SHOWN, ServeRequest
    from batchqueue.service.outcomes import serve as bind

    if port_file is not None:
        check_writable(port_file, "--port-file")
    serving = bind(settings(db), ServeRequest(host, port, threads, spool_dir))
    try:
        click.echo(
            f"receiving callbacks on {serving.url}{CALLBACK_SHOWN} (spool: {serving.spool}); give Insight a "
            f"public address that reaches it with `batchqueue run JOB --public-url https://…`"
        )
        write_port_file(port_file, serving.port)
        serving.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        serving.close()
    return 0


@click.command()
@job_argument
@click.option("--until-final", is_flag=True, help="Keep polling until every queued call has a final outcome.")
@click.option(
    "--interval", type=FiniteFloat(0), default=DEFAULTS.poll_interval, show_default=True, help="Seconds between rounds."
)
@click.option(
    "--deadline",
    type=FiniteFloat(0),
    default=DEFAULTS.poll_deadline,
    show_default=True,
    help="Give up after this many seconds (with --until-final).",
)
@click.option("--concurrency", type=click.IntRange(1, 64), default=DEFAULTS.poll_concurrency, show_default=True)
@click.option("--rate", type=FiniteFloat(0), default=DEFAULTS.poll_rate, show_default=True, help="Requests per second.")
@ca_bundle_option
@db_option
@json_option
def poll(
    job_id: int,
    until_final: bool,
    interval: float,
    deadline: float,
    concurrency: int,
    rate: float,
    ca_bundle: str | None,
    profile: str | None,
    db: str | None,
    as_json: bool,
) -> int:
    """Ask Insight for the status of JOB's queued calls that have no final outcome yet."""
    from batchqueue.exits import EXIT_FINISHED_WITH_PROBLEMS, EXIT_OK, ExitReason, exit_code_for
    from batchqueue.service.outcomes import PollRequest, PollSummary
    from batchqueue.service.outcomes import poll as ask

    request = PollRequest(job_id, until_final, interval, deadline, concurrency, rate)
    code = None
    with stop_on_signals() as stop:
        try:
            summary = ask(settings(db, ca_bundle, profile), request, stop=stop)
        except InsightError as stopped:
            if not isinstance(stopped.result, PollSummary):
                raise
            summary, code = stopped.result, exit_code_for(stopped)
    if as_json:
        emit_json(summary.as_dict())
    else:
        click.echo(
            f"job {job_id}: checked {summary.checked}, recorded {summary.recorded}, not found "
            f"{summary.not_found}, errors {summary.errors}; still open {summary.remaining}"
        )
        click.echo("outcomes: " + (", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items())) or "none yet"))
        if summary.exit_reason is ExitReason.DONE and summary.message:
            click.echo(f"finished, but {summary.message}; `batchqueue poll {job_id}` asks again", err=True)
        elif summary.message:
            click.echo(f"stopped ({summary.exit_reason.value}): {summary.message}", err=True)
    if code is None:
        return summary.exit_code
    return EXIT_FINISHED_WITH_PROBLEMS if code == EXIT_OK and summary.errors else code


@click.command()
@job_argument
@click.option(
    "--grace",
    type=FiniteFloat(0),
    default=DEFAULTS.reconcile_grace,
    show_default=True,
    help="For rows without an end time: seconds after the last attempt to wait for a callback.",
)
@click.option(
    "--resend-unproven",
    is_flag=True,
    help="Put the listed rows back to pending (they may, rarely, have been called after all).",
)
@db_option
@json_option
def reconcile(job_id: int, grace: float, resend_unproven: bool, db: str | None, as_json: bool) -> int:
    """List JOB's uncertain rows that no callback proved queued; with --resend-unproven, make them pending."""
    from batchqueue.service.outcomes import ReconcileRequest
    from batchqueue.service.outcomes import reconcile as settle

    done = settle(settings(db), ReconcileRequest(job_id, grace, resend_unproven))
    if as_json:
        emit_json(done.as_dict())
        return 0
    verb = "now pending" if resend_unproven else "would become pending with --resend-unproven"
    if not done.unproven:
        click.echo(
            f"job {job_id}: no uncertain row is past its calling window without a callback "
            f"({done.counts['uncertain']} uncertain in all)"
        )
    else:
        click.echo(f"job {job_id}: {len(done.unproven)} uncertain row(s) probably not queued ({verb}):")
        for u in done.unproven:
            when = dt.datetime.fromtimestamp(u.since, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            click.echo(f"  row {u.row_number}  {u.phone_number}  last attempt {when}: {u.why}")
    if resend_unproven:
        click.echo(f"{done.changed} row(s) put back to pending; `batchqueue run {job_id}` sends them")
    return 0


COMMANDS = [serve, poll, reconcile]
