"""``dnc``: do-not-call lists, ledger-wide — import a file (or one sheet of a workbook), add,
remove, list, export. Numbers are stored as E.164; a row of any job whose number is on a list is
never sent (see :mod:`batchqueue.ledger.dnc`)."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from batchqueue.cell_safety import safe_row
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import PhoneError, UsageError
from batchqueue.intake.loader import Problem
from batchqueue.intake.mapping.phones import PhoneParser
from batchqueue.intake.mapping.resolve import phone_columns
from batchqueue.intake.sheets import column_letter, open_table
from batchqueue.ledger import Ledger
from batchqueue.service.context import ledger_for
from batchqueue.settings import Settings
from batchqueue.whole_files import atomic_path

#: The header of ``dnc export`` (``dnc import`` reads it back).
EXPORT_HEADER = ("phone", "list", "added_at", "source")
DEFAULT_LIST = "default"
PER_ROW = "(the list each row names)"


@dataclass(frozen=True)
class DncImportRequest:
    """Put every number of ``file`` (its ``sheet``; its ``phone_column``, or the one named like a
    phone) on ``list_name``; None: the list each row names in a ``list`` column (a ``dnc export``),
    else the default list."""

    file: Path
    list_name: str | None = None
    sheet: str | None = None
    phone_column: str | None = None
    region: str = DEFAULTS.region
    max_problems: int = DEFAULTS.max_problems


@dataclass
class DncChange:
    """What a ``dnc`` import or add did: numbers added, already listed, and cells that are no number."""

    list_name: str  # or PER_ROW for a file that names each number's list
    added: int = 0
    already: int = 0
    unreadable: int = 0
    blank: int = 0
    problems: list[Problem] = field(default_factory=list)


def _parser(region: str) -> PhoneParser:
    try:
        return PhoneParser(region)
    except ValueError as exc:
        raise UsageError(f"--region: {exc}") from None


def import_list(settings: Settings, request: DncImportRequest) -> DncChange:
    """Every readable number of the file put on the list (one transaction); unreadable cells are
    counted and the first ones located (row, column)."""
    parser = _parser(request.region)
    with open_table(request.file, sheet=request.sheet) as table:
        column = phone_columns(request.phone_column, table.headers)[0]
        at = table.headers.index(column)
        letter = column_letter(at)
        plain = parser.plain_pattern()
        list_at = table.headers.index("list") if request.list_name is None and "list" in table.headers else None
        fixed = request.list_name or DEFAULT_LIST
        done = DncChange(PER_ROW if list_at is not None else fixed)

        def entries() -> Iterator[tuple[str, str]]:
            for number, cells, _ in table.rows():
                name = (cells[list_at] or DEFAULT_LIST) if list_at is not None else fixed
                text = cells[at]
                digits = plain(text)
                if digits is not None:
                    yield name, "+1" + digits
                    continue
                if not text.strip():
                    done.blank += 1
                    continue
                try:
                    yield name, parser.parse(text).e164
                except PhoneError as exc:
                    done.unreadable += 1
                    if len(done.problems) < request.max_problems:
                        done.problems.append(Problem(number, column, letter, f"{text!r} {exc}"))

        with ledger_for(settings, create=True) as ledger:
            done.added, done.already = ledger.add_to_dnc(entries(), source=Path(table.info.path).name)
    return done


def add(settings: Settings, list_name: str, numbers: Sequence[str], *, region: str = DEFAULTS.region) -> DncChange:
    """``numbers`` as people write them, put on the list; any unreadable one refuses the whole call."""
    e164s = _read_numbers(numbers, region)
    with ledger_for(settings, create=True) as ledger:
        added, already = ledger.add_to_dnc([(list_name, e164) for e164 in e164s], source="added by hand")
    return DncChange(list_name, added, already)


def remove(
    settings: Settings, list_name: str, numbers: Sequence[str], *, region: str = DEFAULTS.region
) -> tuple[int, int]:
    """``numbers`` taken off the list; returns (how many were on it, how many were not)."""
    e164s = sorted(set(_read_numbers(numbers, region)))  # "617-555-0100" and "+16175550100" are one number
    with ledger_for(settings) as ledger:
        removed = ledger.remove_from_dnc(list_name, e164s)
    return removed, len(e164s) - removed


def lists(settings: Settings) -> list[tuple[str, int, float]]:
    """Every list: (name, numbers on it, when a number was last added)."""
    with ledger_for(settings) as ledger:
        return ledger.dnc_lists()


def export(settings: Settings, path: Path, names: Sequence[str] = (), *, stdout: IO[str] | None = None) -> int:
    """The lists ``names`` (all when empty) as CSV (``phone,list,added_at,source``), written whole
    or not at all (or to ``stdout`` when given), cells formula-safe; ``dnc import`` reads it back.
    Returns the numbers written."""
    with ledger_for(settings) as ledger:
        if stdout is not None:
            return _write_lists(ledger, names, stdout)
        with atomic_path(path) as partial, partial.open("w", newline="", encoding="utf-8") as out:
            return _write_lists(ledger, names, out)


def _write_lists(ledger: Ledger, names: Sequence[str], out: IO[str]) -> int:
    written = 0
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    for name, e164, added_at, source in ledger.dnc_entries(names):
        when = datetime.fromtimestamp(added_at, UTC).isoformat(timespec="seconds")
        writer.writerow(safe_row([e164, name, when, source or ""]))
        written += 1
    return written


def _read_numbers(numbers: Sequence[str], region: str) -> list[str]:
    parser = _parser(region)
    e164s, bad = [], []
    for text in numbers:
        try:
            e164s.append(parser.parse(text).e164)
        except PhoneError as exc:
            bad.append(f"{text!r} {exc}")
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise UsageError("not a phone number: " + "; ".join(bad[:5]) + more)
    if not e164s:
        raise UsageError("give at least one number")
    return e164s
