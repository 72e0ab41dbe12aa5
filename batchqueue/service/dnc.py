"""``dnc``: do-not-call lists, ledger-wide — import a file (or one sheet of a workbook), add,
remove, list, export. Numbers are read as ``import`` reads them (:mod:`batchqueue.intake.opt_outs`)
and stored as E.164; a row of any job whose number is on a list is never sent (see
:mod:`batchqueue.ledger.dnc`)."""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from batchqueue.cell_safety import safe_row
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import PhoneError, UsageError
from batchqueue.exits import EXIT_FINISHED_WITH_PROBLEMS, EXIT_OK
from batchqueue.intake.loader import Problem as Problem
from batchqueue.intake.mapping.numbers import read_as_international, read_cell
from batchqueue.intake.mapping.phones import PhoneParser
from batchqueue.intake.mapping.regions import region_named
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.opt_outs import EXPORT_HEADER, OptOutFile
from batchqueue.ledger import Ledger
from batchqueue.service.app import Face
from batchqueue.service.context import ledger_for
from batchqueue.whole_files import atomic_path

DEFAULT_LIST = "default"
PER_ROW = "(the list each row names)"
BY_HAND = "added by hand"


@dataclass(frozen=True)
class DncImportRequest:
    """Put every number of ``file`` on ``list_name``, reading it as ``import`` would read it with
    ``spec`` (its sheet, header row, NULL markers, delimiter, phone columns, region and country
    column; nothing else of a mapping matters here); None: the list each row names in a ``list``
    column (a ``dnc export``), else the default list."""

    file: Path
    spec: MappingSpec = field(default_factory=MappingSpec)
    list_name: str | None = None
    max_problems: int = DEFAULTS.max_problems


@dataclass(frozen=True)
class FileReading:
    """How ``dnc import`` read a file: its phone columns, the region of rows that name no country,
    the column naming each row's country, the sheet and the header row."""

    phone_columns: list[str]
    region: str
    region_column: str | None
    sheet: str | None
    header_row: int


@dataclass
class DncChange:
    """What a ``dnc`` import or add did: numbers added, already listed, and those not read (and why)."""

    list_name: str  # or PER_ROW for a file that names each number's list
    added: int = 0
    already: int = 0
    unreadable: int = 0
    blank: int = 0
    problems: list[Problem] = field(default_factory=list)
    row_warnings: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: ``dnc add``: the numbers put on the list, and those that were on it already (E.164, as given).
    added_numbers: list[str] = field(default_factory=list)
    already_numbers: list[str] = field(default_factory=list)
    #: ``dnc add``: (the text given, why it is no number), not added.
    not_added: list[tuple[str, str]] = field(default_factory=list)
    #: ``dnc add``: (the text given, how it was read) for digits read as an international number.
    read_as: list[tuple[str, str]] = field(default_factory=list)
    #: ``dnc import``: how the file was read.
    read: FileReading | None = None

    @property
    def complete(self) -> bool:
        """Whether every number given was read (and so is on the list now)."""
        return not (self.unreadable or self.not_added)

    @property
    def exit_code(self) -> int:
        """0 when every number given is on the list now, else 1 (the others were added all the same)."""
        return EXIT_OK if self.complete else EXIT_FINISHED_WITH_PROBLEMS


def import_list(app: Face, request: DncImportRequest) -> DncChange:
    """Every number of the file put on its list (one transaction); what could not be read is
    counted and the first ones located (row, column, reason)."""
    with OptOutFile.open(
        request.file, request.spec, now=int(time.time()), list_name=request.list_name, max_problems=request.max_problems
    ) as optouts:
        done = DncChange(PER_ROW if optouts.per_row else optouts.list_name)
        mapping, table = optouts.mapping, optouts.table
        done.read = FileReading(
            list(mapping.phone_columns), mapping.region, mapping.region_column, table.info.sheet, table.header_row
        )
        with ledger_for(app, create=True) as ledger:
            done.added, done.already = ledger.add_to_dnc(optouts.listings(), source=optouts.name)
        done.unreadable, done.blank = optouts.unreadable, optouts.blank
        done.problems, done.row_warnings, done.warnings = optouts.problems, optouts.row_warnings, optouts.warnings
    return done


def add(app: Face, list_name: str, numbers: Sequence[str], *, region: str = DEFAULTS.region) -> DncChange:
    """``numbers`` as people write them (read as ``import`` reads a number in ``region``), put on
    the list; those that are no number are reported, the others added. UsageError when none is one."""
    read, refused = _read_numbers(numbers, region)
    e164s = [e164 for _, e164, _ in read]
    with ledger_for(app, create=True) as ledger:
        added = ledger.list_numbers(list_name, e164s, source=BY_HAND)
    new = set(added)
    return DncChange(
        list_name,
        len(added),
        len(set(e164s)) - len(added),
        added_numbers=added,
        already_numbers=[e for e in dict.fromkeys(e164s) if e not in new],
        not_added=refused,
        read_as=[(text, how) for text, _, how in read if how],
    )


def remove(app: Face, list_name: str, numbers: Sequence[str], *, region: str = DEFAULTS.region) -> tuple[int, int]:
    """``numbers`` taken off the list; returns (how many were on it, how many were not)."""
    read, refused = _read_numbers(numbers, region)
    if refused:  # taking numbers off a list lets them be called: nothing is taken off on a typo
        raise UsageError("not a phone number (nothing removed): " + described(refused))
    e164s = sorted({e164 for _, e164, _ in read})  # "617-555-0100" and "+16175550100" are one number
    with ledger_for(app) as ledger:
        removed = ledger.remove_from_dnc(list_name, e164s)
    return removed, len(e164s) - removed


def lists(app: Face) -> list[tuple[str, int, float]]:
    """Every list: (name, numbers on it, when a number was last added)."""
    with ledger_for(app) as ledger:
        return ledger.dnc_lists()


def export(app: Face, path: Path, names: Sequence[str] = (), *, stdout: IO[str] | None = None) -> int:
    """The lists ``names`` (all when empty) as CSV (``phone,list,added_at,source``); ``dnc import``
    reads it back as it was. To ``path``: written whole or not at all, cells formula-safe (a
    spreadsheet opens it); to ``stdout`` (a pipe, a program): plain values, ``+`` and all.
    Returns the numbers written."""
    with ledger_for(app) as ledger:
        if stdout is not None:
            return _write_lists(ledger, names, stdout, formula_safe=False)
        with atomic_path(path) as partial, partial.open("w", newline="", encoding="utf-8") as out:
            return _write_lists(ledger, names, out, formula_safe=True)


def _write_lists(ledger: Ledger, names: Sequence[str], out: IO[str], *, formula_safe: bool) -> int:
    written = 0
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    for name, e164, added_at, source in ledger.dnc_entries(names):
        when = datetime.fromtimestamp(added_at, UTC).isoformat(timespec="seconds")
        cells = [e164, name, when, source or ""]
        if formula_safe:
            cells = safe_row(cells)
        elif source and source[0] == "'":  # dnc import takes one ' off (a file export's): one more here
            cells[3] = "'" + source
        writer.writerow(cells)
        written += 1
    return written


def _read_numbers(numbers: Sequence[str], region: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """((text, E.164, how it was read when as an international number, else ""), …) and ((text, why
    it is no number), …); UsageError when no number at all is given or readable."""
    try:
        parser = PhoneParser(region_named(region))
    except ValueError as exc:
        raise UsageError(f"--region: {exc}") from None
    read: list[tuple[str, str, str]] = []
    refused: list[tuple[str, str]] = []
    for text in numbers:
        try:
            if not text.strip():
                raise PhoneError("is empty")
            phone, international = read_cell(text, parser, own_region=False)
        except PhoneError as exc:
            refused.append((text, str(exc)))
            continue
        read.append((text, phone.e164, read_as_international(parser.region, phone.e164) if international else ""))
    if not numbers:
        raise UsageError("give at least one number")
    if not read:
        raise UsageError("not a phone number: " + described(refused))
    return read, refused


def described(refused: list[tuple[str, str]]) -> str:
    """Numbers that are no number, and why, in a line (the first five)."""
    more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
    return "; ".join(f"{text!r} {why}" for text, why in refused[:5]) + more
