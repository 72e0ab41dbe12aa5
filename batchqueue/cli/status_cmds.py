"""``status``: counts by state, for one job or every job."""

from __future__ import annotations

import datetime as dt
import textwrap
import time
from typing import TYPE_CHECKING

import click

from batchqueue.cli.options import JOB_ID, FiniteFloat, db_option, json_option, settings
from batchqueue.cli.output import emit_json, stdout_console
from batchqueue.defaults import DEFAULTS

if TYPE_CHECKING:
    from batchqueue.service.status import JobStatus, WorkerInfo


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _job_json(s: JobStatus) -> dict[str, object]:
    job = s.job
    return {
        "job_id": job.id,
        "survey_id": job.survey_id,
        "instance_id": job.instance_id,
        "source": job.source_name,
        "sheet": job.sheet,
        "created_at": _when(job.created_at),
        "archived_at": _when(job.archived_at) if job.archived_at is not None else None,
        "rows": s.rows,
        "counts": s.counts,
        "outcomes": s.outcomes,
        "suppressed_by": s.suppressed_by,
        "calling_rules": s.calling_rules,
        "rules": s.rules,
        "held": s.held,
        "next_window_at": s.next_window_at,
        "holds": s.holds.as_json(),
        "waves": [
            {"job_id": w.id, "wave": int(w.options.get("wave", 1)), "rows": sum(c.values()), "counts": c}
            for w, c in s.waves
        ],
        "answers": s.answers,
    }


def _stale(worker: WorkerInfo, lease_ttl: float) -> bool:
    from batchqueue.service.status import process_gone

    return time.time() - worker.heartbeat_at > lease_ttl or process_gone(worker)


def _show_one(s: JobStatus, lease_ttl: float, wide: bool) -> None:
    from rich.table import Table

    from batchqueue.service.rules import rules_line

    job = s.job
    click.echo(f"job {job.id}: {job.source_name}")
    click.echo(f"  survey {job.survey_id}/{job.instance_id}, imported {_when(job.created_at)} UTC")
    if job.archived_at is not None:
        click.echo(f"  archived {_when(job.archived_at)} UTC (`batchqueue job unarchive {job.id}` brings it back)")
    table = Table("row state", "rows", box=None)
    for state, n in s.counts.items():
        table.add_row(state, f"{n:,}")
    table.add_row("total", f"{s.rows:,}", style="bold")
    stdout_console().print(table)
    if s.suppressed_by:
        click.echo("suppressed: " + ", ".join(f"{why} {n:,}" for why, n in s.suppressed_by.items()))
    if s.calling_rules:
        click.echo(f"calling rules: {s.calling_rules}")
    click.echo(textwrap.fill(f"rules: {rules_line(s.rules)}", 80, subsequent_indent="       "))  # 80 columns
    if s.held:
        click.echo(textwrap.fill(s.holds.describe(), 100, subsequent_indent="      "))
        if s.next_window_at is not None:
            click.echo(f"      the first may be tried {_when(s.next_window_at)} UTC")
    if s.waves:
        click.echo("waves (recycle):")
        for wave_job, c in s.waves:
            mark = "  <- this job" if wave_job.id == job.id else ""
            click.echo(
                f"  wave {int(wave_job.options.get('wave', 1))}: job {wave_job.id}, {sum(c.values()):,} rows, "
                f"queued {c.get('queued', 0):,}, pending {c.get('pending', 0):,}{mark}"
            )
    if s.outcomes:
        calls = ", ".join(f"{status} {n:,}" for status, n in sorted(s.outcomes.items()))
        click.echo(f"call outcomes (as Insight reported them): {calls}")
    if s.answers:
        a = s.answers
        click.echo(
            f"survey answers (report {a['report_id']}, fetched {_when(a['fetched_at'])} UTC): {a['joined']:,} row(s) "
            f"with answers, {a['completed']:,} completed; {a['ambiguous']:,} ambiguous visit(s) not joined"
        )
    if s.workers:
        workers = Table("host", "pid", "sent", "rows/s", "last heartbeat", box=None)
        live = [w for w in s.workers if not _stale(w, lease_ttl)]
        for w in s.workers:
            age = time.time() - w.heartbeat_at
            note = "  STALE" if _stale(w, lease_ttl) else ""
            workers.add_row(w.host if wide else w.host[:20], str(w.pid), f"{w.sent:,}",
                            f"{w.rate:.1f}", f"{age:.0f}s ago{note}")  # fmt: skip
        click.echo(f"{len(live)} live worker(s), {sum(w.rate for w in live):.1f} rows/s together:")
        if len(live) < len(s.workers):
            click.echo(f"{len(s.workers) - len(live)} stale: killed or cut off (gone, or silent past --lease-ttl)")
        stdout_console().print(workers)


def _show_all(found: list[JobStatus], wide: bool) -> None:
    from rich.table import Table

    if not found:
        click.echo("no jobs yet: import a file with `batchqueue import FILE --survey ID --instance ID`")
        return
    if wide:
        shown = list(found[0].counts)
        table = Table("job", "created", "file", "survey/instance", "rows", *shown, box=None)
        for s in found:
            table.add_row(
                str(s.job.id),
                _when(s.job.created_at),
                s.job.source_name,
                f"{s.job.survey_id}/{s.job.instance_id}",
                f"{s.rows:,}",
                *(f"{s.counts[state]:,}" for state in shown),
            )
        stdout_console().print(table)
        return
    # 80 columns: the states people act on, the rest summed up ("other"; --wide for every state).
    table = Table("job", "file", "rows", "pending", "queued", "failed", "uncert.", "other", box=None, pad_edge=False)
    for s in found:
        c = s.counts
        main = c["pending"] + c["queued"] + c["failed"] + c["uncertain"]
        name = s.job.source_name
        table.add_row(
            str(s.job.id),
            name if len(name) <= 20 else name[:19] + "…",
            _count(s.rows),
            *(_count(c[state]) for state in ("pending", "queued", "failed", "uncertain")),
            _count(s.rows - main),
        )
    stdout_console().print(table)


def _count(n: int) -> str:
    """A count in at most 7 characters: 999,999 then 1.23M, 12.3M, 123M."""
    if n < 1_000_000:
        return f"{n:,}"
    return f"{n / 1e6:.3g}M"


@click.command()
@click.argument("job_id", metavar="[JOB]", type=JOB_ID, required=False)
@click.option("--wide", is_flag=True, help="Every column (every state, dates, survey); wider than 80 columns.")
@click.option(
    "--lease-ttl",
    type=FiniteFloat(3),
    default=DEFAULTS.lease_ttl,
    show_default=True,
    help="A worker not heard from for this many seconds is shown as stale.",
)
@db_option
@json_option
def status(job_id: int | None, wide: bool, lease_ttl: float, db: str | None, as_json: bool) -> int:
    """Counts of rows by state for JOB; without JOB, a table of every job (80 columns; --wide)."""
    from batchqueue.service.status import status as look

    found = look(settings(db), job_id)
    if job_id is not None:
        one = found[0]
        if as_json:
            emit_json(
                {
                    **_job_json(one),
                    "workers": [
                        {
                            "id": w.id,
                            "host": w.host,
                            "pid": w.pid,
                            "sent": w.sent,
                            "rate": round(w.rate, 1),
                            "heartbeat_age": round(time.time() - w.heartbeat_at, 1),
                            "stale": _stale(w, lease_ttl),
                        }
                        for w in one.workers
                    ],
                }
            )
        else:
            _show_one(one, lease_ttl, wide)
        return 0
    if as_json:
        emit_json({"jobs": [_job_json(s) for s in found]})
    else:
        _show_all(found, wide)
    return 0


COMMANDS = [status]
