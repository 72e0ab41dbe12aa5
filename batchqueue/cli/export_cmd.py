"""``export``: the job's report as CSV, xlsx or JSON."""

from __future__ import annotations

from pathlib import Path

import click

from batchqueue.cli.options import comma_set, db_option, job_argument, json_option, settings
from batchqueue.cli.output import emit_json


@click.command()
@job_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The report file: .csv, .xlsx or .json.",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), help="Overrides the extension.")
@click.option("--state", "states", help="Only rows in these states (comma-separated).")
@click.option("--outcome", "outcomes", help="Only rows with these call outcomes (comma-separated).")
@click.option("--errors-only", is_flag=True, help="Only failed, invalid and uncertain rows.")
@click.option(
    "--as-input",
    is_flag=True,
    help="Only the input's own columns (default rows: failed and invalid), to correct and import again.",
)
@db_option
@json_option
def export(
    job_id: int,
    output: Path,
    fmt: str | None,
    states: str | None,
    outcomes: str | None,
    errors_only: bool,
    as_input: bool,
    db: str | None,
    as_json: bool,
) -> int:
    """Write JOB's report: every input row in input order with its state, error and outcome."""
    from batchqueue.service.reports import ExportRequest
    from batchqueue.service.reports import export as write_report

    request = ExportRequest(job_id, output, fmt, comma_set(states), comma_set(outcomes), errors_only, as_input)
    result = write_report(settings(db), request)
    if as_json:
        emit_json({"job_id": job_id, "path": str(result.path), "format": result.format, "rows": result.rows})
    else:
        click.echo(
            f"job {job_id}: {result.rows} row(s) written to {result.path} ({result.format}) in {result.seconds:.1f}s"
        )
    return 0


COMMANDS = [export]
