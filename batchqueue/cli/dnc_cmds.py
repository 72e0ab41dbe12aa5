"""``dnc import|add|remove|list|export``: the ledger's do-not-call lists."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from batchqueue.cli.options import build_spec, db_option, json_option, number_options, settings
from batchqueue.cli.output import emit_json

if TYPE_CHECKING:
    from batchqueue.service.dnc import DncChange, Problem

_list_option = click.option(
    "--list", "list_name", default="default", show_default=True, help="The list's name (letters, digits, - _ .)."
)
_import_list_option = click.option(
    "--list",
    "list_name",
    default=None,
    help="The list's name (letters, digits, - _ .); default: the list each row names in a 'list' column "
    "(a `dnc export`), else 'default'.",
)
_region_option = click.option(
    "--region", default="US", show_default=True, help="Country of numbers written without a country code (MX, GB…)."
)


def _problems(problems: list[Problem]) -> list[dict[str, object]]:
    return [{"row": p.row, "column": p.column, "column_letter": p.letter, "reason": p.reason} for p in problems]


def _show_import(change: DncChange, as_json: bool) -> int:
    if as_json:
        emit_json(
            {
                "list": change.list_name,
                "added": change.added,
                "already_listed": change.already,
                "unreadable": change.unreadable,
                "blank": change.blank,
                "problems": _problems(change.problems),
                "row_warnings": [
                    {"row": w.row, "column": w.column, "column_letter": w.letter, "warning": w.reason}
                    for w in change.row_warnings
                ],
                "warnings": change.warnings,
                "read": asdict(change.read) if change.read else None,
            }
        )
        return change.exit_code
    if change.read is not None:
        read = change.read
        how = f"phone column {' and '.join(map(repr, read.phone_columns))} (region {read.region}"
        if read.region_column:
            how += f", each row's country from {read.region_column!r}"
        sheet = f"sheet {read.sheet!r}, " if read.sheet else ""
        click.echo(f"{how}; {sheet}header row {read.header_row})")
    named = change.list_name if change.list_name.startswith("(") else f"list {change.list_name!r}"
    line = f"{named}: {change.added} added, {change.already} already on it"
    if change.unreadable:
        line += f", {change.unreadable} not read (not added)"
    click.echo(line)
    for problem in change.problems:
        click.echo(f"  {problem}")
    for warning in change.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in change.row_warnings:
        click.echo(f"warning: {note}", err=True)
    return change.exit_code


def _show_add(change: DncChange, as_json: bool) -> int:
    if as_json:
        emit_json(
            {
                "list": change.list_name,
                "added": change.added,
                "already_listed": change.already,
                "added_numbers": change.added_numbers,
                "already_numbers": change.already_numbers,
                "not_added": [{"number": text, "reason": why} for text, why in change.not_added],
                "read_as_international": [{"number": text, "read_as": how} for text, how in change.read_as],
            }
        )
        return change.exit_code
    line = f"list {change.list_name!r}: {change.added} added"
    if change.added_numbers:
        line += f" ({', '.join(change.added_numbers)})"
    line += f", {change.already} already on it"
    if change.already_numbers:
        line += f" ({', '.join(change.already_numbers)})"
    click.echo(line)
    for text, how in change.read_as:
        click.echo(f"  {text!r} is {how}")
    for text, why in change.not_added:
        click.echo(f"  not added: {text!r} {why}")
    return change.exit_code


@click.group()
def dnc() -> None:
    """Do-not-call lists: numbers on any list are never called (checked at import and at each claim)."""


@dnc.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@_import_list_option
@number_options
@db_option
@json_option
def import_cmd(file: Path, list_name: str | None, db: str | None, as_json: bool, **opts: Any) -> int:
    """Put every number of FILE (CSV, TSV, Excel, or a sheet of a workbook) on a list.

    Numbers are read exactly as `import` reads them, with the same options: each row's country
    (a column named like Country, or --region-column), --region for the others, the header row,
    sheet, NULL markers and delimiter; FILE - reads standard input (`dnc export -o - | dnc import -`).
    With several phone columns (--phone-column A,B), every one's number is put on the list, not
    only the first. A number that cannot be read is
    reported with its row, column and why, and not added (exit 1).
    """
    from batchqueue.cli.load_cmds import readable
    from batchqueue.service.dnc import DncImportRequest, import_list

    spec = build_spec(opts)
    with readable(file) as path:
        change = import_list(settings(db), DncImportRequest(path, spec, list_name))
    return _show_import(change, as_json)


@dnc.command("add")
@click.argument("numbers", nargs=-1, required=True)
@_list_option
@_region_option
@db_option
@json_option
def add_cmd(numbers: tuple[str, ...], list_name: str, region: str, db: str | None, as_json: bool) -> int:
    """Put NUMBERS on a list (from now on, no row with them is claimed).

    Each number is read as `import` reads it: in --region unless it has a country code (+52…,
    0052…, tel:+52…). A number that cannot be read is shown and not added (exit 1); the others are.
    """
    from batchqueue.service.dnc import add

    return _show_add(add(settings(db), list_name, numbers, region=region), as_json)


@dnc.command("remove")
@click.argument("numbers", nargs=-1, required=True)
@_list_option
@_region_option
@db_option
def remove_cmd(numbers: tuple[str, ...], list_name: str, region: str, db: str | None) -> int:
    """Take NUMBERS off a list; the other lists keep them (rows already suppressed stay suppressed).

    Each number is read as `dnc add` reads it; if one cannot be read, nothing is taken off.
    """
    from batchqueue.service.dnc import remove

    removed, absent = remove(settings(db), list_name, numbers, region=region)
    click.echo(f"list {list_name!r}: {removed} removed, {absent} were not on it")
    return 0


@dnc.command("list")
@db_option
@json_option
def list_cmd(db: str | None, as_json: bool) -> int:
    """Every list, with how many numbers it holds."""
    from datetime import UTC, datetime

    from batchqueue.service.dnc import lists

    found = lists(settings(db))
    if as_json:
        emit_json([{"list": n, "numbers": c, "last_added_at": t} for n, c, t in found])
        return 0
    if not found:
        click.echo("no do-not-call list yet (`batchqueue dnc import FILE` or `dnc add NUMBER`)")
    for name, count, last in found:
        when = datetime.fromtimestamp(last, UTC).strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"{name}: {count} numbers (last added {when})")
    return 0


@dnc.command("export")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path),
    required=True,
    help="The CSV to write, formula-safe for a spreadsheet; - for standard output, plain for programs.",
)
@click.option("--list", "names", multiple=True, help="Only this list (repeatable; default: every list).")
@db_option
def export_cmd(output: Path, names: tuple[str, ...], db: str | None) -> int:
    """Write lists as CSV (phone, list, added_at, source); `dnc import` reads it back as it was.

    A file gets a ' before a cell that starts with + - = or @, so that a spreadsheet shows it as
    text (`dnc import` takes it off again); standard output (-o -) is plain CSV for programs.
    """
    from batchqueue.service.dnc import export

    if output == Path("-"):
        stdout: IO[str] = sys.stdout
        written = export(settings(db), output, names, stdout=stdout)
        click.echo(f"{written} numbers written to standard output", err=True)
        return 0
    written = export(settings(db), output, names)
    click.echo(f"{written} numbers written to {output}")
    return 0


COMMANDS = [dnc]
