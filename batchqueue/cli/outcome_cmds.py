"""``serve``, ``poll`` and ``reconcile``: learning what happened to queued calls."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from batchqueue.callbacks.app import CallbackApp
from batchqueue.callbacks.poller import Poller
from batchqueue.callbacks.spool import spool_folder_for
from batchqueue.cli.options import FiniteFloat, ca_bundle_option, cli_ledger, db_option, job_argument, json_option
from batchqueue.cli.output import check_writable, emit_json, serve_until_interrupted
from batchqueue.cli.run_cmds import insight_client, stop_on_signals
from batchqueue.http_serving import HttpServer
from batchqueue.settings import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 = any free port.")
@click.option(
    "--port-file", type=click.Path(dir_okay=False, path_type=Path), help="Write the port here once listening."
)
@click.option("--threads", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where accepted callbacks are spooled until the ledger has them "
    "(default: beside an SQLite ledger, else ./batchqueue-callbacks).",
)
@db_option
def serve(host: str, port: int, port_file: Path | None, threads: int, spool_dir: Path | None, db: str | None) -> int:
    """Receive Insight's result_url callbacks and record each call's outcome in the ledger."""
    ledger = cli_ledger(Settings.from_env(db=db).db_url)
    if port_file is not None:
        check_writable(port_file, "--port-file")
    url = ledger.engine.url
    folder = spool_dir or spool_folder_for(url.database if url.get_backend_name() == "sqlite" else None)
    apps: list[CallbackApp] = []
    # The address is checked and bound first: a mistyped host must not leave a spool behind.
    server = HttpServer(lambda environ, respond: apps[0](environ, respond), host=host, port=port, threads=threads)
    app = CallbackApp(ledger, folder)
    apps.append(app)
    click.echo(
        f"receiving callbacks on {server.url}/cb/<row>/<token> (spool: {folder}); give Insight a public "
        f"address that reaches it with `batchqueue run JOB --public-url https://…`"
    )
    try:
        serve_until_interrupted(server, port_file)
    finally:
        app.close()
    return 0


@click.command()
@job_argument
@click.option("--until-final", is_flag=True, help="Keep polling until every queued call has a final outcome.")
@click.option("--interval", type=FiniteFloat(0), default=60.0, show_default=True, help="Seconds between rounds.")
@click.option(
    "--deadline",
    type=FiniteFloat(0),
    default=3600.0,
    show_default=True,
    help="Give up after this many seconds (with --until-final).",
)
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--rate", type=FiniteFloat(0), default=5.0, show_default=True, help="Requests per second.")
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
    db: str | None,
    as_json: bool,
) -> int:
    """Ask Insight for the status of JOB's queued calls that have no final outcome yet."""
    settings = Settings.from_env(db=db, ca_bundle=ca_bundle)
    ledger = cli_ledger(settings.db_url)
    job = ledger.job(job_id)
    client = insight_client(settings, concurrency, 5.0, 30.0)
    with stop_on_signals() as stop:
        summary = Poller(ledger, client, job, concurrency=concurrency, rate=rate).run(
            until_final=until_final, interval=interval, deadline=deadline, stop=stop
        )
    client.close()
    if as_json:
        emit_json(summary.as_dict())
    else:
        click.echo(
            f"job {job_id}: checked {summary.checked}, recorded {summary.recorded}, not found "
            f"{summary.not_found}, errors {summary.errors}; still open {summary.remaining}"
        )
        click.echo("outcomes: " + (", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items())) or "none yet"))
        if summary.message:
            click.echo(f"stopped ({summary.exit_reason}): {summary.message}", err=True)
    return {"done": 0, "deadline": 1, "fatal_reply": 3, "interrupted": 130}[summary.exit_reason]


@click.command()
@job_argument
@click.option(
    "--grace",
    type=FiniteFloat(0),
    default=3600.0,
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
    ledger = cli_ledger(Settings.from_env(db=db).db_url)
    ledger.job(job_id)
    found = ledger.unproven(job_id, grace=grace)
    changed = ledger.resend_unproven(job_id, [u.row_id for u in found]) if resend_unproven else 0
    counts = ledger.counts(job_id)
    if as_json:
        emit_json(
            {
                "job_id": job_id,
                "unproven": [u.__dict__ for u in found],
                "changed": changed,
                "uncertain": counts["uncertain"],
                "counts": counts,
            }
        )
        return 0
    verb = "now pending" if resend_unproven else "would become pending with --resend-unproven"
    if not found:
        click.echo(
            f"job {job_id}: no uncertain row is past its calling window without a callback "
            f"({counts['uncertain']} uncertain in all)"
        )
    else:
        click.echo(f"job {job_id}: {len(found)} uncertain row(s) probably not queued ({verb}):")
        for u in found:
            when = dt.datetime.fromtimestamp(u.since, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            click.echo(f"  row {u.row_number}  {u.phone_number}  last attempt {when}: {u.why}")
    if resend_unproven:
        click.echo(f"{changed} row(s) put back to pending; `batchqueue run {job_id}` sends them")
    return 0


COMMANDS = [serve, poll, reconcile]
