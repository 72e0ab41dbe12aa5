"""``recycle``: the contacts a job's calls did not reach, as a follow-up job (the next wave)."""

from __future__ import annotations

import click

from batchqueue.cli.options import comma_set, db_option, job_argument, json_option, settings
from batchqueue.cli.output import emit_json


@click.command()
@job_argument
@click.option(
    "--outcome",
    "outcomes",
    required=True,
    metavar="OUTCOMES",
    help="The call outcomes to call again, comma-separated: failed, rejected, canceled, completed.",
)
@click.option(
    "--after",
    metavar="PERIOD",
    help="Call each contact no earlier than PERIOD (4h, 1d) after the job's last attempt at it.",
)
@db_option
@json_option
def recycle(job_id: int, outcomes: str, after: str | None, db: str | None, as_json: bool) -> int:
    """A follow-up job (the next wave) of JOB's contacts whose call ended with OUTCOMES.

    The wave keeps JOB's request fields and calling rules; do-not-call lists and re-contact limits
    are applied again (JOB's own calls do not count against the wave). `status` shows the waves and
    JOB's report each contact's latest outcome.
    """
    from batchqueue.periods import parse_period
    from batchqueue.service.waves import RecycleRequest
    from batchqueue.service.waves import recycle as make_wave

    request = RecycleRequest(
        job_id, comma_set(outcomes) or frozenset(), parse_period(after, "--after") if after else None
    )
    done = make_wave(settings(db), request)
    if as_json:
        emit_json(
            {"parent_job_id": done.parent_id, "job_id": done.job_id, "wave": done.wave, "rows": done.rows,
             "counts": done.counts}
        )  # fmt: skip
        return 0
    if done.job_id is None:
        click.echo(f"job {job_id}: no call ended {' or '.join(sorted(request.outcomes))}; no wave created")
        return 0
    suppressed = done.counts.get("suppressed", 0)
    click.echo(
        f"job {done.job_id} created: wave {done.wave} of job {job_id}, {done.counts.get('pending', 0)} row(s) pending"
        + (f", {suppressed} suppressed (do-not-call or re-contact)" if suppressed else "")
        + f"; send it with `batchqueue run {done.job_id}`"
    )
    return 0


COMMANDS = [recycle]
