"""``dnc import|add|remove|list|export``: the ledger's do-not-call lists."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from batchqueue.cli.options import db_option, json_option, settings
from batchqueue.cli.output import emit_json

if TYPE_CHECKING:
    from batchqueue.service.dnc import DncChange

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
    "--region", default="US", show_default=True, help="Country of numbers written without a country code."
)


def _show(change: DncChange, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "list": change.list_name,
                "added": change.added,
                "already_listed": change.already,
                "unreadable": change.unreadable,
                "blank": change.blank,
                "problems": [
                    {"row": p.row, "column": p.column, "column_letter": p.letter, "reason": p.reason}
                    for p in change.problems
                ],
            }
        )
        return
    named = change.list_name if change.list_name.startswith("(") else f"list {change.list_name!r}"
    line = f"{named}: {change.added} added, {change.already} already on it"
    if change.unreadable:
        line += f", {change.unreadable} not a phone number (not added)"
    click.echo(line)
    for problem in change.problems:
        click.echo(f"  {problem}")


@click.group()
def dnc() -> None:
    """Do-not-call lists: numbers on any list are never called (checked at import and at each claim)."""


@dnc.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@_import_list_option
@click.option("--sheet", help="The workbook's sheet holding the numbers (an Opt-Outs sheet, say).")
@click.option("--phone-column", help="The column of numbers (default: the one named like a phone).")
@_region_option
@db_option
@json_option
def import_cmd(
    file: Path,
    list_name: str | None,
    sheet: str | None,
    phone_column: str | None,
    region: str,
    db: str | None,
    as_json: bool,
) -> int:
    """Put every number of FILE (CSV, TSV, Excel, or a sheet of a workbook) on a list."""
    from batchqueue.service.dnc import DncImportRequest, import_list

    request = DncImportRequest(file, list_name, sheet=sheet, phone_column=phone_column, region=region)
    _show(import_list(settings(db), request), as_json)
    return 0


@dnc.command("add")
@click.argument("numbers", nargs=-1, required=True)
@_list_option
@_region_option
@db_option
@json_option
def add_cmd(numbers: tuple[str, ...], list_name: str, region: str, db: str | None, as_json: bool) -> int:
    """Put NUMBERS on a list (from now on, no row with them is claimed)."""
    from batchqueue.service.dnc import add

    _show(add(settings(db), list_name, numbers, region=region), as_json)
    return 0


@dnc.command("remove")
@click.argument("numbers", nargs=-1, required=True)
@_list_option
@_region_option
@db_option
def remove_cmd(numbers: tuple[str, ...], list_name: str, region: str, db: str | None) -> int:
    """Take NUMBERS off a list (rows already suppressed stay suppressed)."""
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
    "-o", "--output", "output", type=click.Path(path_type=Path), required=True, help="The CSV to write (- for stdout)."
)
@click.option("--list", "names", multiple=True, help="Only this list (repeatable; default: every list).")
@db_option
def export_cmd(output: Path, names: tuple[str, ...], db: str | None) -> int:
    """Write lists as CSV (phone, list, added_at, source); `dnc import` reads it back."""
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
