"""A do-not-call file, read as ``import`` reads a contacts file: the same table framing (sheet,
header row, NULL markers, delimiter), the same phone and country columns, every number read by
:class:`~batchqueue.intake.mapping.numbers.NumberReader`. So a list holds the very number a job
would call. Every phone column's number of a row is listed (a person who opts out does so with
each of their numbers); a cell that is no number is a problem located by row and column, never
stored as another number.

A ``list`` column names each number's list (a ``dnc export``), unless a list is given; ``added_at``
and ``source`` columns keep when, and from where, each number was first listed.

Usage::

    with OptOutFile.open(Path("optouts.xlsx"), MappingSpec(sheet="Opt-Outs"), now=now) as optouts:
        added, already = ledger.add_to_dnc(optouts.listings(), source=optouts.name)
    optouts.unreadable, optouts.problems            # what was not listed, and where
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.intake.loader import Problem, open_and_fit
from batchqueue.intake.mapping.numbers import NumberReader
from batchqueue.intake.mapping.resolve import ResolvedMapping
from batchqueue.intake.mapping.spec import FIELDS, NO_COLUMN, MappingSpec
from batchqueue.intake.sheets import Table, column_letter
from batchqueue.intake.sheets.own_columns import DNC_EXPORT_HEADER
from batchqueue.ledger.dnc import list_name
from batchqueue.ledger.records import Listing
from batchqueue.untrusted import storable

#: The header ``dnc export`` writes (and a file with these columns is read back as it was: see
#: ``intake/sheets/own_columns``).
EXPORT_HEADER = DNC_EXPORT_HEADER
DEFAULT_LIST = "default"


def number_spec(spec: MappingSpec) -> MappingSpec:
    """Of an ``import`` mapping, only what decides how a number is read: the file's table (sheet,
    delimiter, header row, NULL markers), the phone columns, the region and each row's country.
    Request fields, metadata, ``--where`` and time zones have nothing to do with an opt-out."""
    return replace(
        spec,
        columns=dict.fromkeys(FIELDS, NO_COLUMN),  # no request field is guessed from a column's name
        defaults={},
        metadata=None,
        no_metadata=True,
        where=(),
        timezone=DEFAULTS.timezone,
        timezone_column=NO_COLUMN,
        zip_column=NO_COLUMN,
        date_formats=(),
        calling={},
    )


class OptOutFile:
    """The numbers of one do-not-call file, streamed once, with what could not be listed and why."""

    def __init__(self, table: Table, mapping: ResolvedMapping, fixed_list: str | None, max_problems: int) -> None:
        self.table, self.max_problems = table, max_problems
        #: How the numbers are read: the phone columns, the region, each row's country column.
        self.mapping = mapping
        self.reader = NumberReader(mapping, table.headers)
        self.name = Path(table.info.path).name
        headers = table.headers
        self._letters = {name: column_letter(i) for i, name in enumerate(headers)}
        self._fixed = list_name(fixed_list) if fixed_list is not None else None
        self.list_name = self._fixed or DEFAULT_LIST
        #: Each row names its list (a ``list`` column, and no list given).
        self.per_row = self._fixed is None and "list" in headers
        self._list_at = headers.index("list") if self.per_row else None
        self._added_at = headers.index("added_at") if "added_at" in headers else None
        self._source_at = headers.index("source") if "source" in headers else None
        self.blank = 0
        self.unreadable = 0
        self.problems: list[Problem] = []
        self.row_warnings: list[Problem] = []
        self.warnings: list[str] = list(table.warnings)

    @classmethod
    def open(
        cls,
        path: Path,
        spec: MappingSpec,
        *,
        now: int,
        list_name: str | None = None,
        max_problems: int = DEFAULTS.max_problems,
    ) -> OptOutFile:
        """The file opened and its header fitted (:class:`UsageError` when no phone column is found)."""
        table, result = open_and_fit(path, number_spec(spec), now)
        try:
            return cls(table, result.mapping, list_name, max_problems)
        except BaseException:
            table.close()
            raise

    def _locate(self, into: list[Problem], row: int, column: str | None, why: str) -> None:
        if len(into) < self.max_problems:
            into.append(Problem(row, column, self._letters.get(column) if column else None, why))

    def listings(self) -> Iterator[Listing | tuple[str, str]]:
        """(list, number) of every number of the file; a :class:`Listing` when the file says when and
        from where each was listed. Rows that list nothing are counted (and located) as they go."""
        reader, fixed, list_at = self.reader, self._fixed, self._list_at
        keeps = self._added_at is not None or self._source_at is not None
        known: set[str] = set()
        # The common file: one phone column, no country column, plain numbers of a NANP region.
        plain = (
            reader.default.plain_pattern() if len(reader.phone_columns) == 1 and reader.region_column is None else None
        )
        phone_at = reader.phone_columns[0][1]
        for number, cells, _ in self.table.rows():
            name = fixed or (cells[list_at].strip() if list_at is not None else "") or DEFAULT_LIST
            if name not in known and not self._known_list(number, name, known):
                continue
            if plain is not None and not keeps:
                digits = plain(cells[phone_at])
                if digits is not None:
                    yield name, "+1" + digits
                    continue
            found = reader.every(cells)
            if not found.phones and not found.reasons:
                self.blank += 1
                continue
            for column, why in found.reasons:
                self.unreadable += 1
                self._locate(self.problems, number, column, why)
            for column, note in found.notes:
                self._locate(self.row_warnings, number, column, note)
            if not keeps:
                for _, phone in found.phones:
                    yield name, phone.e164
                continue
            added_at, source = self._provenance(number, cells)
            for _, phone in found.phones:
                yield Listing(name, phone.e164, added_at, source)
        self.warnings.extend(f"{n} row(s): {w}" for w, n in reader.warnings.items())

    def _known_list(self, number: int, name: str, known: set[str]) -> bool:
        """Whether a row's list name is one (else the row is a problem: nothing of it is listed)."""
        try:
            known.add(list_name(name))
        except UsageError:
            self.unreadable += 1
            why = f"{name!r} is not a list name (1-64 letters, digits, '-', '_' or '.'): nothing of this row listed"
            self._locate(self.problems, number, "list", why)
            return False
        return True

    def _provenance(self, number: int, cells: list[str]) -> tuple[float | None, str | None]:
        """When (``added_at``) and from where (``source``) the row says its numbers were listed."""
        added_at = None
        if self._added_at is not None and (text := cells[self._added_at].strip()):
            added_at = _timestamp(text)
            if added_at is None:
                why = f"{text!r} is not a date and time (ISO 8601, as `dnc export` writes it): listed as added now"
                self._locate(self.row_warnings, number, "added_at", why)
        source = None
        if self._source_at is not None and cells[self._source_at].strip():
            source = storable(cells[self._source_at])
        return added_at, source

    def close(self) -> None:
        self.table.close()

    def __enter__(self) -> OptOutFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _timestamp(text: str) -> float | None:
    """Unix seconds of an ISO 8601 date and time (UTC when it names no offset), or None."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
