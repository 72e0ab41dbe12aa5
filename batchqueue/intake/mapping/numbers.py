"""A row's phone number, read as ``import`` reads it: in the row's own country (its country
column), else in the job's region, and, when that region cannot read digits and the row names no
country, as an international number written without its ``+``.

One reader for every command that takes numbers from a spreadsheet or from a person: ``import``
(the first valid of the phone columns, through :class:`~batchqueue.intake.mapping.validate.RowValidator`),
``dnc import`` (every phone column's number) and ``dnc add``/``dnc remove`` (one number at a time), so
that a do-not-call list holds exactly the number a job would call.

Usage::

    reader = NumberReader(resolved, headers)
    parser, own_region, reasons = reader.parser_for(cells, facts)
    phone, reasons = reader.first(cells, parser, own_region, facts)      # import
    numbers = reader.every(cells)                                        # dnc import
    phone, international = read_cell("0044 20 7946 0958", PhoneParser("US"), False)   # dnc add
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from batchqueue.intake.mapping.phones import Phone, PhoneError, PhoneParser, without_number_cell_decimals
from batchqueue.intake.mapping.regions import UNKNOWN_COUNTRY, region_of
from batchqueue.intake.mapping.resolve import ResolvedMapping

#: (column name or None for the whole row, what is wrong)
Reason = tuple[str | None, str]


def read_as_international(region: str, e164: str) -> str:
    """What is said of digits read as an international number: ``'…' is `` goes before it."""
    return f"not a valid {region} number; read as the international number {e164}"


def international_warning(region: str) -> str:
    """The warning counted once per row read as an international number."""
    return (
        f"digits read as an international number (country code without +) because they are "
        f"not a valid {region} number; check them (see row_warnings)"
    )


@dataclass
class RowNumbers:
    """Every number of one row (``dnc import``): (column, phone) read, (column, why) not read, and a
    note for each number read as international."""

    phones: list[tuple[str, Phone]] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


class NumberReader:
    """Reads the phone cells of rows fitted to one effective mapping (see the module's docstring)."""

    def __init__(self, mapping: ResolvedMapping, headers: list[str], warnings: Counter[str] | None = None) -> None:
        self.default = PhoneParser(mapping.region)
        self.region_column = mapping.region_column
        index = {name: i for i, name in enumerate(headers)}
        self.phone_columns = [(name, index[name]) for name in mapping.phone_columns]
        self._region_at = index[mapping.region_column] if mapping.region_column else None
        self._parsers: dict[str, PhoneParser] = {self.default.region: self.default}
        #: Warnings counted over the rows read (one line each in a command's output).
        self.warnings: Counter[str] = warnings if warnings is not None else Counter()
        self._plain: Callable[[str], str | None] = self.default.plain_pattern()

    def parser(self, region: str) -> PhoneParser:
        """The parser of ``region`` (made once)."""
        parser = self._parsers.get(region)
        if parser is None:
            parser = self._parsers[region] = PhoneParser(region)
        return parser

    def parser_for(self, cells: list[str], facts: dict[str, Any]) -> tuple[PhoneParser, bool, list[Reason]]:
        """The parser of the row's own country (``facts["region"]``), whether the row named one, and
        why not when its country cell is no country (the row is then not to be read at all)."""
        if self._region_at is not None:
            raw = cells[self._region_at].strip()
            if raw:
                region = region_of(raw)
                if region is None:
                    return self.default, False, [(self.region_column, f"{raw!r} {UNKNOWN_COUNTRY}")]
                facts["region"] = region
                return self.parser(region), True, []
        return self.default, False, []

    def read(self, raw: str, parser: PhoneParser, own_region: bool) -> tuple[Phone, bool]:
        """:func:`read_cell` with this reader's shortcut for plain numbers of its default region."""
        return read_cell(raw, parser, own_region, self._plain if parser is self.default else None)

    def first(
        self, cells: list[str], parser: PhoneParser, own_region: bool, facts: dict[str, Any]
    ) -> tuple[Phone | None, list[Reason]]:
        """The first valid number among the phone columns (``import``), else every reason none is."""
        reasons: list[Reason] = []
        for column, at in self.phone_columns:
            raw = cells[at]
            if not raw.strip():
                continue
            try:
                phone, international = self.read(raw, parser, own_region)
            except PhoneError as exc:
                reasons.append((column, f"{raw!r} {exc}"))
                continue
            if international:
                facts["phone_read_as"] = f"{raw!r} in column {column!r} is " + read_as_international(
                    parser.region, phone.e164
                )
                self.warnings[international_warning(parser.region)] += 1
            return phone, []
        if not reasons:
            names = [name for name, _ in self.phone_columns]
            also = f" (and so are {', '.join(map(repr, names[1:]))})" if len(names) > 1 else ""
            reasons.append((names[0], "is empty" + also))
        return None, reasons

    def every(self, cells: list[str]) -> RowNumbers:
        """Every number among the phone columns (``dnc import``: all the numbers of a person who opted
        out), each read as :meth:`first` reads it; a row whose country is unknown is not read."""
        found = RowNumbers()
        parser, own_region, found.reasons = self.parser_for(cells, {})
        if found.reasons:
            if not any(cells[at].strip() for _, at in self.phone_columns):
                found.reasons = []  # nothing to read: a blank row, whatever its country cell says
            return found
        for column, at in self.phone_columns:
            raw = cells[at]
            if not raw.strip():
                continue
            try:
                phone, international = self.read(raw, parser, own_region)
            except PhoneError as exc:
                found.reasons.append((column, f"{raw!r} {exc}"))
                continue
            found.phones.append((column, phone))
            if international:
                found.notes.append((column, f"{raw!r} is " + read_as_international(parser.region, phone.e164)))
                self.warnings[international_warning(parser.region)] += 1
        return found


def read_cell(
    raw: str, parser: PhoneParser, own_region: bool, plain: Callable[[str], str | None] | None = None
) -> tuple[Phone, bool]:
    """The number of one non-blank cell, and whether it was read as international: only when the row
    names no country (``own_region`` false) and ``parser`` cannot read it. :class:`PhoneError` says why
    it is no number. ``plain``: ``parser.plain_pattern()``, the shortcut for its plain numbers."""
    if plain is not None:
        digits = plain(raw)  # the common cell, without the parser's ~35 µs
        if digits is not None:
            return Phone("+1" + digits, parser.region), False
    raw = without_number_cell_decimals(raw)  # 6175550136.0 is 6175550136, never +61 7 5550 1360
    try:
        return parser.parse(raw), False
    except PhoneError:
        international = None if own_region else parser.international_reading(raw)
        if international is None:
            raise
        return international, True
