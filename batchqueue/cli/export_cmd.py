"""``export``: the job's report as CSV, xlsx or JSON."""

from __future__ import annotations

from pathlib import Path

import click

from batchqueue.cli.options import comma_set, db_option, job_argument, json_option, settings
from batchqueue.cli.output import emit_json
from batchqueue.errors import UsageError
from batchqueue.service.mapping import parse_delimiter


@click.command()
@job_argument
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
    help="The report file: .csv, .xlsx or .json; - for standard output (CSV unless --format).",
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
@click.option(
    "--columns",
    metavar="A,B",
    help="Only these report columns, in this order (the file's own and bq_ columns, comma-separated).",
)
@click.option("--delimiter", help="CSV delimiter (default ,; also tab, semicolon, pipe).")
@click.option(
    "--encoding",
    type=click.Choice(["utf-8-sig", "utf-8", "cp1252"]),
    help="CSV encoding (default utf-8-sig, the UTF-8 Excel recognises; utf-8 on standard output).",
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
    columns: str | None,
    delimiter: str | None,
    encoding: str | None,
    db: str | None,
    as_json: bool,
) -> int:
    """Write JOB's report: every input row in input order with its state, error and outcome."""
    from batchqueue.service.reports import STDOUT, ExportRequest, ExportShape
    from batchqueue.service.reports import export as write_report

    shape = ExportShape(
        columns=tuple(c.strip() for c in columns.split(",") if c.strip()) if columns else None,
        delimiter=parse_delimiter(delimiter) or ",",
        encoding=encoding,
    )
    if as_json and output == STDOUT:
        raise UsageError("--json and -o - both want standard output; write the report to a file")
    request = ExportRequest(
        job_id, output, fmt, comma_set(states), comma_set(outcomes), errors_only, as_input, shape=shape
    )
    result = write_report(settings(db), request)
    if as_json:
        emit_json({"job_id": job_id, "path": str(result.path), "format": result.format, "rows": result.rows})
    else:
        where = "standard output" if output == STDOUT else str(result.path)
        click.echo(
            f"job {job_id}: {result.rows} row(s) written to {where} ({result.format}) in {result.seconds:.1f}s",
            err=output == STDOUT,
        )
    return 0


COMMANDS = [export]
