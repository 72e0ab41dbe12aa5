"""``recycle``: the contacts a job's calls did not reach, as a follow-up job (the next wave)."""

from __future__ import annotations

import click

from batchqueue.cli.options import comma_set, db_option, job_argument, json_option, settings
from batchqueue.cli.output import emit_json
from batchqueue.exits import EXIT_FINISHED_WITH_PROBLEMS, EXIT_OK

#: No wave made: no row ended that way, or every such row is already in a wave (a script tests it).
EXIT_NOTHING_TO_RECYCLE = EXIT_FINISHED_WITH_PROBLEMS


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
    are applied again (JOB's own calls do not count against the wave). A row goes into one wave
    only: recycling JOB again takes only the rows no earlier wave took. Exit 1 when no wave is
    made (nothing left that ended that way). `status` shows the waves and JOB's report each
    contact's latest outcome.
    """
    from batchqueue.service.values import parse_period
    from batchqueue.service.waves import RecycleRequest
    from batchqueue.service.waves import recycle as make_wave

    request = RecycleRequest(
        job_id, comma_set(outcomes) or frozenset(), parse_period(after, "--after") if after else None
    )
    done = make_wave(settings(db), request)
    code = EXIT_OK if done.job_id is not None else EXIT_NOTHING_TO_RECYCLE
    earlier = [{"job_id": wave, "rows": n} for wave, n in done.taken.items()]
    if as_json:
        emit_json(
            {"parent_job_id": done.parent_id, "job_id": done.job_id, "created": done.created, "wave": done.wave,
             "rows": done.rows, "counts": done.counts, "already_in_waves": earlier}
        )  # fmt: skip
        return code
    ended = " or ".join(sorted(request.outcomes))
    in_waves = ", ".join(f"job {wave}: {n}" for wave, n in done.taken.items())
    if done.job_id is None:
        if done.taken:
            click.echo(
                f"job {job_id}: no wave created: the {sum(done.taken.values())} row(s) whose call ended {ended} "
                f"are already in a wave ({in_waves}); a row goes into one wave only"
            )
        else:
            click.echo(f"job {job_id}: no call ended {ended}; no wave created")
        return code
    suppressed = done.counts.get("suppressed", 0)
    click.echo(
        f"job {done.job_id} created: wave {done.wave} of job {job_id}, {done.counts.get('pending', 0)} row(s) pending"
        + (f", {suppressed} suppressed (do-not-call or re-contact)" if suppressed else "")
        + (f"; {sum(done.taken.values())} row(s) already in a wave were left out ({in_waves})" if done.taken else "")
        + f"; send it with `batchqueue run {done.job_id}`"
    )
    return code


COMMANDS = [recycle]
