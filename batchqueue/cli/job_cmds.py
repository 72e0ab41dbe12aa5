"""``job edit|archive|unarchive|delete`` and ``jobs prune``: looking after jobs (each change in the
audit trail, as ``cli:<login>``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from batchqueue.cli.options import db_option, job_argument, json_option, settings
from batchqueue.cli.output import emit_json
from batchqueue.errors import UsageError


def _user() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _confirmed(question: str, yes: bool) -> bool:
    """``yes``, or the person at the terminal said yes; a script must say --yes."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{question}. Add --yes to confirm.")
    return click.confirm(question + ". Go on?", err=True)


@click.group()
def job() -> None:
    """Look after one job: correct its survey/instance, archive it, delete it."""


@job.command("edit")
@job_argument
@click.option("--survey", "survey_id", help="The survey id its rows are sent to from now on.")
@click.option("--instance", "instance_id", help="The instance id of that survey.")
@click.option("--force", is_flag=True, help="Change it although requests were sent already (asks first).")
@click.option("--yes", is_flag=True, help="With --force: do not ask (scripts).")
@db_option
@json_option
def edit(
    job_id: int, survey_id: str | None, instance_id: str | None, force: bool, yes: bool, db: str | None, as_json: bool
) -> int:
    """Send JOB's rows to another survey or instance (refused once anything was sent, unless --force)."""
    from batchqueue.service.context import ledger_for
    from batchqueue.service.job_admin import EditRequest, edit_target, sent_warning

    current = settings(db)
    if force:
        with ledger_for(current) as ledger:
            found, sent = ledger.job(job_id), ledger.anything_sent(job_id)
        if sent and not _confirmed(sent_warning(found), yes):
            return 2
    done = edit_target(current, EditRequest(job_id, survey_id, instance_id, force), user=_user())
    if as_json:
        emit_json(
            {"job_id": job_id, "before": list(done.before), "after": list(done.after), "forced": done.sent_before}
        )
    else:
        click.echo(
            f"job {job_id}: survey {done.before[0]} instance {done.before[1]} → survey {done.after[0]} "
            f"instance {done.after[1]}"
        )
    return 0


@job.command("archive")
@job_argument
@db_option
def archive_job(job_id: int, db: str | None) -> int:
    """Archive JOB: kept whole (status JOB, export), out of the lists, not sent until unarchived."""
    from batchqueue.service.job_admin import archive

    archive(settings(db), job_id, user=_user())
    click.echo(f"job {job_id} archived: `batchqueue status` and the console list it no more; `job unarchive` undoes it")
    return 0


@job.command("unarchive")
@job_argument
@db_option
def unarchive_job(job_id: int, db: str | None) -> int:
    """Bring an archived JOB back to the lists (and let it be sent)."""
    from batchqueue.service.job_admin import archive

    archive(settings(db), job_id, user=_user(), undo=True)
    click.echo(f"job {job_id} is no longer archived")
    return 0


@job.command("delete")
@job_argument
@click.option(
    "--export",
    "export_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the job's report to this file first (.csv, .xlsx, .json): the record you keep.",
)
@click.option("--yes", is_flag=True, help="Do not ask (scripts); needed when calls may still ring.")
@db_option
@json_option
def delete(job_id: int, export_to: Path | None, yes: bool, db: str | None, as_json: bool) -> int:
    """Delete JOB and its rows. Kept: every number's contact history (re-contact limits), the
    do-not-call lists and the audit trail. Asks first, and says so when its calls may still ring."""
    from batchqueue.service.job_admin import DeleteRequest, delete_job, delete_question

    current = settings(db)
    if export_to is not None:
        from batchqueue.service.reports import ExportRequest, export

        written = export(current, ExportRequest(job_id, export_to))
        click.echo(f"report of job {job_id} written to {export_to} ({written.rows:,} rows)", err=as_json)
    question = delete_question(current, job_id)
    ask = question or f"job {job_id} and all its rows will be deleted (its report can no longer be exported)"
    if not _confirmed(ask, yes):
        return 2
    done = delete_job(current, DeleteRequest(job_id, confirmed=True), user=_user())
    if as_json:
        emit_json({"job_id": job_id, "deleted_rows": done.rows, "open_calls": done.open_calls})
    else:
        click.echo(f"job {job_id} deleted ({done.rows:,} rows); the numbers' contact history is kept")
    return 0


@click.group()
def jobs() -> None:
    """Look after many jobs at once."""


@jobs.command("prune")
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="PERIOD",
    help="Delete jobs imported, and last sent, more than PERIOD ago (30d, 12w, 36h).",
)
@click.option("--dry-run", is_flag=True, help="List the jobs that would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask (scripts, cron).")
@db_option
@json_option
def prune_jobs(older_than: str, dry_run: bool, yes: bool, db: str | None, as_json: bool) -> int:
    """Delete old jobs (kept: jobs with rows still to send, and every number's contact history)."""
    from batchqueue.service.job_admin import PruneRequest, prune
    from batchqueue.service.values import parse_period

    period = parse_period(older_than, "--older-than")
    current = settings(db)
    if not dry_run:
        found = prune(current, PruneRequest(period, dry_run=True), user=_user())
        if found.deleted and not _confirmed(
            f"{len(found.deleted)} job(s) older than {older_than} will be deleted "
            f"({', '.join(str(d.job_id) for d in found.deleted[:20])}{'…' if len(found.deleted) > 20 else ''})",
            yes,
        ):
            return 2
    result = prune(current, PruneRequest(period, dry_run=dry_run), user=_user())
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "deleted": [{"job_id": d.job_id, "file": d.source_name, "rows": d.rows} for d in result.deleted],
                "kept": [{"job_id": j, "why": why} for j, why in result.kept],
            }
        )
        return 0
    verb = "would delete" if dry_run else "deleted"
    for d in result.deleted:
        click.echo(f"{verb} job {d.job_id} ({d.source_name}, {d.rows:,} rows)")
    for job_id, why in result.kept:
        click.echo(f"kept job {job_id}: {why}")
    if not result.deleted:
        click.echo(f"no job older than {older_than} to delete")
    return 0


COMMANDS = [job, jobs]
