"""``check`` and ``import``: a spreadsheet validated, and loaded into the ledger as a job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from batchqueue.cli.calling_options import calling_options, rule_option, state_rule_texts
from batchqueue.cli.options import build_spec, db_option, json_option, mapping_options, quiet_option, settings
from batchqueue.cli.output import emit_json, progress_bar
from batchqueue.defaults import DEFAULTS
from batchqueue.service.values import RECONTACT_OFF

if TYPE_CHECKING:
    from batchqueue.service.loading import LoadResult, Overlap

_file_arg = click.argument("file", type=click.Path(path_type=Path))
_max_problems = click.option(
    "--show",
    "max_problems",
    type=click.IntRange(0),
    default=DEFAULTS.max_problems,
    show_default=True,
    help="How many problems to list.",
)


#: ``check -`` and ``import -`` read standard input; it is shown by this name.
STDIN_NAME = "standard input"


#: Standard input is kept in a temporary file, at most this much of it: an endless stream (``yes |
#: batchqueue check -``) would fill the disk. A bigger list is read from its own file, where it is.
STDIN_LIMIT = 2 << 30


@contextmanager
def readable(file: Path) -> Iterator[Path]:
    """``file``, or for ``-`` standard input kept in a private temporary file (the reader needs a
    file it can read twice: once for the columns, once for the rows), removed afterwards, also when
    the command is stopped by SIGTERM (``timeout``, a service manager)."""
    if str(file) != "-":
        yield file
        return
    import sys
    import tempfile

    from batchqueue.errors import UsageError

    with _sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="batchqueue-stdin-") as folder:
        kept = Path(folder) / "standard-input"
        with kept.open("wb") as out:
            kept_bytes = 0
            while chunk := sys.stdin.buffer.read(1 << 20):
                kept_bytes += len(chunk)
                if kept_bytes > STDIN_LIMIT:
                    raise UsageError(
                        f"{STDIN_NAME} goes on past {STDIN_LIMIT >> 30} GiB: save the list to a file and give its name"
                    )
                out.write(chunk)
        yield kept


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM is a Ctrl-C in this process while inside (so that what it keeps is removed); a process
    forked meanwhile (the import's helper) dies of it as before, leaving the files to this one."""
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    parent = os.getpid()

    def stop(signum: int, _frame: object) -> None:
        if os.getpid() != parent:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_result(result: LoadResult, given: Path) -> None:
    from batchqueue.service.loading import suppressed_text

    src = result.source
    described = [src.kind.upper()]
    if src.sheet:
        described.append(f"sheet {src.sheet!r}")
    if src.encoding:
        described.append(f"encoding {src.encoding}")
    if src.delimiter:
        described.append(f"delimiter {src.delimiter!r}")
    described.append(f"header row {result.header_row}")
    name = STDIN_NAME if str(given) == "-" else src.path
    click.echo(f"{name}: {', '.join(described)}")
    for skipped in result.skipped_rows:
        click.echo(f"  skipped row {skipped.row}: {skipped.why}")
    m = result.mapping
    phones = " then ".join(repr(c) for c in m.phone_columns)
    where = [f"region {m.region}"]
    if m.region_column:
        where.append(f"each row's country from {m.region_column!r}")
    if m.timezone_column:
        where.append(f"each row's time zone from {m.timezone_column!r}")
    if m.zip_column:
        where.append(f"each row's ZIP code from {m.zip_column!r}")
    if m.state_column:
        where.append(f"each row's US state from {m.state_column!r}")
    fields = "".join(f"; {key} from {col!r}" for key, col in m.columns.items())
    meta = ", ".join(repr(c) for c in m.metadata) or "none"
    click.echo(f"phone column {phones} ({', '.join(where)}){fields}; metadata: {meta}")
    for guess in m.guesses:
        click.echo(str(guess))
    for said in result.notes:
        click.echo(said)
    counts = (
        f"rows {result.rows}  valid {result.valid}  invalid {result.invalid}  "
        f"duplicate {result.duplicate}  blank {result.blank}"
    )
    if m.where:
        counts += f"  filtered {result.filtered} (--where {' and '.join(c.text for c in m.where)})"
    if result.suppressed:
        counts += f"  {suppressed_text(result)}"
    click.echo(counts)
    if result.preview is not None:
        for line in result.preview.lines():
            click.echo(line)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in result.row_warnings:
        click.echo(f"warning: {note}", err=True)
    if result.problems:
        shown = len(result.problems)
        click.echo(f"problems (first {shown}):" if shown < result.invalid else "problems:")
        for problem in result.problems:
            click.echo(f"  {problem}")


@click.command()
@_file_arg
@mapping_options
@click.option(
    "--errors-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every invalid row, with its reasons, to this CSV.",
)
@click.option(
    "--state-rules",
    type=click.Choice(["us", "none"], case_sensitive=False),
    help="The state rules the preview shows (default us, as an import would get).",
)
@_max_problems
@json_option
@quiet_option
def check(
    file: Path,
    errors_out: Path | None,
    state_rules: str | None,
    max_problems: int,
    as_json: bool,
    quiet: bool,
    **opts: Any,
) -> int:
    """Validate FILE without writing to the ledger; exit 1 if some rows are invalid. It previews where
    the valid contacts are: by zone, by source, with several zones or none (held), and by US state
    with the state rule that applies."""
    from batchqueue.service.loading import CheckRequest
    from batchqueue.service.loading import check as check_rows

    spec = build_spec(opts)
    with (
        readable(file) as path,
        progress_bar(f"checking {file.name or STDIN_NAME}", quiet=quiet or as_json) as progress,
    ):
        result = check_rows(
            CheckRequest(
                path,
                spec,
                max_problems=max_problems,
                errors_out=errors_out,
                rule_texts={"state-rules": state_rules.lower()} if state_rules else {},
            ),
            progress=progress,
        )
    if as_json:
        emit_json(result.as_dict() | ({"file": "-"} if str(file) == "-" else {}))
    else:
        _print_result(result, file)
        if errors_out is not None:
            click.echo(f"invalid rows written to {errors_out}")
    return 1 if result.invalid else 0


@click.command("import")
@_file_arg
@click.option("--survey", "survey_id", required=True, help='Insight survey id ("Outbound API Values").')
@click.option("--instance", "instance_id", required=True, help="Insight instance id of that survey.")
@mapping_options
@click.option(
    "--new-job",
    is_flag=True,
    help="Create a new job even if this file was imported before (it calls no number a job of the same file "
    "called, unless --recontact-after 0).",
)
@click.option(
    "--recontact-after",
    metavar="PERIOD",
    help="Never call a number another job of this ledger called within PERIOD (default 7d; 36h, 2w…): its "
    "row is suppressed, at import and again as it is claimed. Jobs of the same file never call a number the "
    "other called; 0 (or off) allows both.",
)
@click.option(
    "--max-contacts",
    metavar="N/PERIOD",
    help="Never call a number more than N times within PERIOD (3/7d), counting every job's calls and each "
    "request as its max attempts: a number at the cap is suppressed, at import and as it is claimed.",
)
@calling_options
@rule_option
@click.option(
    "--default-timezone",
    metavar="ZONE",
    help="A contact's zone when neither its row, its ZIP nor its number says (default: the intersection "
    "of every zone of its country).",
)
@_max_problems
@db_option
@json_option
@quiet_option
def import_(
    file: Path,
    survey_id: str,
    instance_id: str,
    new_job: bool,
    recontact_after: str | None,
    max_contacts: str | None,
    calling_hours: str | None,
    calling_days: str | None,
    holidays: str | None,
    blackout: tuple[str, ...],
    state_rules: str | None,
    outside_federal_hours: bool,
    rule_args: tuple[str, ...],
    default_timezone: str | None,
    max_problems: int,
    db: str | None,
    as_json: bool,
    quiet: bool,
    **opts: Any,
) -> int:
    """Import FILE into the ledger as a job (or find the job it already is) and print its id.

    Calls are made only within the calling rules (08:00-21:00 in each contact's own time unless
    told otherwise); per-state or per-country hours go in the mapping file's [calling] table. The
    job keeps its rules: the same file imported with other rules is another job.
    """
    from batchqueue.service.loading import ImportRequest, import_file, import_notes, job_attempts
    from batchqueue.service.rules import CallingRules, given_rules

    spec = build_spec(opts)
    given = {
        "calling-hours": calling_hours,
        "days": calling_days,
        "holidays": holidays,
        "blackout": ",".join(blackout),
        "recontact-after": recontact_after,
        "max-contacts": max_contacts,
        **state_rule_texts(state_rules, outside_federal_hours),
    }
    request = ImportRequest.with_rules(
        file,
        spec,
        survey_id,
        instance_id,
        given_rules(given, rule_args, below=spec.rules),
        new_job=new_job,
        max_problems=max_problems,
        default_timezone=default_timezone,
    )
    stack = ExitStack()  # standard input is read only once the rules were taken
    request = replace(request, file=stack.enter_context(readable(file)))
    with stack, progress_bar(f"importing {file.name or STDIN_NAME}", quiet=quiet or as_json) as progress:
        result = import_file(settings(db), request, progress=progress)
    if as_json:
        emit_json(result.as_dict() | ({"file": "-"} if str(file) == "-" else {}))
        return 0
    if result.created:
        _print_result(result, file)
        click.echo(f"job {result.job_id} created ({result.valid} rows pending) in {result.seconds:.1f}s")
        click.echo(f"calling rules: {(request.calling or CallingRules.parse()).describe()}")
    else:
        click.echo(
            f"job {result.job_id} already holds this file for survey {survey_id}/{instance_id} "
            f"with the same mapping and rules; nothing imported (use --new-job to import it again)"
        )
    for line in import_notes(result, job_attempts(spec)):
        click.echo(line)
    for overlap in result.overlaps:
        click.echo(_overlap_note(result.job_id, overlap, protected=request.recontact_after != RECONTACT_OFF))
    return 0


def _overlap_note(job_id: int | None, overlap: Overlap, *, protected: bool) -> str:
    """What a re-import of the same file under another mapping means for the calls."""
    said = f"job {job_id} overlaps job {overlap.job_id} (the same file): {overlap.numbers} number(s) in both"
    if not protected:
        return f"{said}; --recontact-after 0: job {job_id} may call numbers job {overlap.job_id} called"
    if overlap.suppressed:
        said += f", {overlap.suppressed} suppressed here (job {overlap.job_id} called them)"
    return f"{said}; neither job calls a number the other called (--recontact-after 0 allows it)"


@click.command("rules")
def rules() -> int:
    """The named rules a job keeps (import's --rule NAME=VALUE, the mapping file's [rules], the
    console's import form; run's --rule for those that run in the claim)."""
    from batchqueue.service.rules import RULES

    for r in RULES.values():
        default = f"; default {r.default}" if r.default else ""
        fixed = "" if r.settable else "; always on"
        click.echo(f"{r.name} (v{r.version}, runs at {' and '.join(r.runs_at)}): {r.value}{default}{fixed}")
        click.echo(f"    {r.help}")
    return 0


COMMANDS = [check, import_, rules]
