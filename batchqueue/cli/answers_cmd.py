"""``answers``: a saved survey report from Insight, joined to a job's calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from batchqueue.cli.options import FiniteFloat, ca_bundle_option, db_option, job_argument, json_option, settings
from batchqueue.cli.output import emit_json
from batchqueue.defaults import DEFAULTS

if TYPE_CHECKING:
    from batchqueue.service.answers import AnswersResult

#: How the set-aside reasons read.
SET_ASIDE_WORDS = {
    "web": "web visits",
    "inbound": "inbound calls",
    "other_type": "visits of another type",
    "unreadable": "unreadable (number or start)",
    "not_called": "numbers no job of this survey called",
    "other_jobs": "another job's call",
    "before_call": "started before the number's call was queued",
    "outside_window": "outside the call's window",
    "too_many": "numbers with too many visits",
}


def _show(result: AnswersResult) -> None:
    click.echo(
        f"job {result.job_id}, report {result.report_id}: read {result.read:,} rows in {result.pages} page(s); "
        f"{result.visits:,} visits known"
    )
    click.echo(
        f"joined {result.joined:,} (completed {result.completed:,}), not this job's {result.not_this_job:,}, "
        f"ambiguous {result.ambiguous_total:,}"
    )
    if result.set_aside:
        click.echo(
            "  set aside: " + ", ".join(f"{SET_ASIDE_WORDS.get(k, k)} {n:,}" for k, n in result.set_aside.items())
        )
    for visit in result.ambiguous_visits[:10]:
        why = "matches two calls equally" if visit["why"] == "two_calls" else "its call has another visit"
        click.echo(f"  ambiguous: {visit['phone']} at {visit['start_utc']} ({visit['rows']}): {why}; not joined")
    if result.ambiguous_total > 10:
        click.echo(f"  … {result.ambiguous_total - 10:,} more ambiguous (--json lists {len(result.ambiguous_visits)})")
    for row, why in result.located[:5]:
        click.echo(f"  report row {row:,} could not be read: {why}", err=True)
    for visit in result.unreadable_visits[:5]:
        click.echo(f"  unreadable visit ({visit['visit_type']} {visit['phone']!r}): {visit['why']}", err=True)
    if result.opted_out is not None:
        o = result.opted_out
        click.echo(
            f"opt-outs ({'; '.join(o.rules)}): {o.matched:,} visit(s) matched, {o.added:,} number(s) newly on "
            f"do-not-call list {o.list_name!r}"
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.questions:
        click.echo(f"questions ({len(result.questions)}): " + "; ".join(result.questions[:8]))
    click.echo(f"`batchqueue export {result.job_id} -o report.xlsx` writes them beside the contacts")


@click.command()
@job_argument
@click.option(
    "--report",
    "report_id",
    metavar="REPORT_ID",
    help="The saved report's number (the end of its Reporting API URL, on the survey's View Survey Visits "
    "page), or that URL; stored on the job (default: the one stored).",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Visits from then on (a date-time in the report's zone, or unix seconds; default: a day before the "
    "job was imported).",
)
@click.option("--until", metavar="WHEN", help="Visits until then (default: no end).")
@click.option(
    "--report-timezone",
    metavar="ZONE",
    help=f"The time zone of the report's Start and End (Insight does not say; default {DEFAULTS.report_timezone}, "
    "or the one stored on the job).",
)
@click.option(
    "--report-date-format",
    "report_date_formats",
    multiple=True,
    metavar="PATTERN",
    help="strftime pattern of the report's Start and End, when they are not ISO (repeatable).",
)
@click.option(
    "--opt-out-when",
    "opt_out_when",
    multiple=True,
    metavar="'QUESTION=ANSWER'",
    help="Put every number that answered QUESTION with ANSWER on a do-not-call list (repeatable; stored on "
    "the job; letter case and spaces around it aside).",
)
@click.option(
    "--no-opt-outs", is_flag=True, help="Forget the --opt-out-when stored on the job (the lists keep their numbers)."
)
@click.option(
    "--opt-out-list", metavar="NAME", help=f"The do-not-call list opt-outs go on (default {DEFAULTS.opt_out_list})."
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 10_000),
    default=DEFAULTS.report_page_size,
    show_default=True,
    help="Rows asked for per page.",
)
@click.option("--rate", type=FiniteFloat(0), default=DEFAULTS.report_rate, show_default=True, help="Pages per second.")
@ca_bundle_option
@db_option
@json_option
def answers(
    job_id: int,
    report_id: str | None,
    since: str | None,
    until: str | None,
    report_timezone: str | None,
    report_date_formats: tuple[str, ...],
    opt_out_when: tuple[str, ...],
    no_opt_outs: bool,
    opt_out_list: str | None,
    page_size: int,
    rate: float,
    ca_bundle: str | None,
    profile: str | None,
    db: str | None,
    as_json: bool,
) -> int:
    """Read a saved survey report from Insight and join its answers to JOB's calls (by number, then
    time); `export` then shows them beside each contact. Running it again picks up new answers."""
    from batchqueue.errors import UsageError
    from batchqueue.service.answers import AnswersRequest, fetch_answers

    if no_opt_outs and opt_out_when:
        raise UsageError("--no-opt-outs and --opt-out-when contradict each other")
    request = AnswersRequest(
        job_id,
        report_id=report_id,
        since=since,
        until=until,
        report_timezone=report_timezone,
        report_date_formats=report_date_formats or None,
        opt_out_when=() if no_opt_outs else (opt_out_when or None),
        opt_out_list=opt_out_list,
        page_size=page_size,
        rate=rate,
    )

    def progress(result: AnswersResult, total: int | None) -> None:
        if not as_json:
            of = f" of {total:,}" if total else ""
            click.echo(f"read {result.read:,}{of} rows", err=True)

    result = fetch_answers(settings(db, ca_bundle, profile), request, on_page=progress)
    if as_json:
        emit_json(result.as_dict())
    else:
        _show(result)
    return 0


COMMANDS = [answers]
