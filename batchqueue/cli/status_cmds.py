"""``status``: counts by state, for one job or every job."""

from __future__ import annotations

import datetime as dt
import time

import click
from rich.table import Table

from batchqueue.cli.options import JOB_ID, cli_ledger, db_option, json_option
from batchqueue.cli.output import emit_json, stdout_console
from batchqueue.ledger import Job
from batchqueue.ledger.schema import RowState
from batchqueue.settings import Settings


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _job_json(job: Job, counts: dict[str, int]) -> dict[str, object]:
    return {
        "job_id": job.id,
        "survey_id": job.survey_id,
        "instance_id": job.instance_id,
        "source": job.source_name,
        "sheet": job.sheet,
        "created_at": _when(job.created_at),
        "rows": sum(counts.values()),
        "counts": counts,
    }


@click.command()
@click.argument("job_id", metavar="[JOB]", type=JOB_ID, required=False)
@db_option
@json_option
def status(job_id: int | None, db: str | None, as_json: bool) -> int:
    """Counts of rows by state for JOB; without JOB, a table of every job."""
    ledger = cli_ledger(Settings.from_env(db=db).db_url)
    if job_id is not None:
        job = ledger.job(job_id)
        counts = ledger.counts(job_id)
        outcomes = ledger.outcome_counts(job_id)
        live = ledger.live_workers(job_id)
        if as_json:
            emit_json(
                {
                    **_job_json(job, counts),
                    "outcomes": outcomes,
                    "workers": [
                        {
                            "id": w.id,
                            "host": w.host,
                            "pid": w.pid,
                            "sent": w.sent,
                            "rate": round(w.rate, 1),
                            "heartbeat_age": round(time.time() - w.heartbeat_at, 1),
                        }
                        for w in live
                    ],
                }
            )
            return 0
        click.echo(
            f"job {job.id}: {job.source_name} -> survey {job.survey_id}/{job.instance_id}, "
            f"imported {_when(job.created_at)}"
        )
        table = Table("state", "rows", box=None)
        for state in RowState:
            table.add_row(state.value, f"{counts[state.value]:,}")
        table.add_row("total", f"{sum(counts.values()):,}", style="bold")
        stdout_console().print(table)
        if outcomes:
            click.echo("outcomes: " + ", ".join(f"{status} {n:,}" for status, n in sorted(outcomes.items())))
        if live:
            workers = Table("worker", "host", "pid", "sent", "rows/s", "last heartbeat", box=None)
            for w in live:
                workers.add_row(
                    w.id, w.host, str(w.pid), f"{w.sent:,}", f"{w.rate:.1f}", f"{time.time() - w.heartbeat_at:.0f}s ago"
                )
            click.echo(f"{len(live)} live worker(s), {sum(w.rate for w in live):.1f} rows/s together:")
            stdout_console().print(workers)
        return 0
    jobs = ledger.jobs()
    all_counts = ledger.all_counts([j.id for j in jobs])
    if as_json:
        emit_json({"jobs": [{**_job_json(j, all_counts[j.id]), "outcomes": ledger.outcome_counts(j.id)} for j in jobs]})
        return 0
    if not jobs:
        click.echo("no jobs yet: import a file with `batchqueue import FILE --survey ID --instance ID`")
        return 0
    shown = [s.value for s in RowState]
    table = Table("job", "created", "file", "survey/instance", "rows", *shown, box=None)
    for job in jobs:
        counts = all_counts[job.id]
        table.add_row(
            str(job.id),
            _when(job.created_at),
            job.source_name,
            f"{job.survey_id}/{job.instance_id}",
            f"{sum(counts.values()):,}",
            *(f"{counts[s]:,}" for s in shown),
        )
    stdout_console().print(table)
    return 0


COMMANDS = [status]
