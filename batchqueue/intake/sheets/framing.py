"""Where the table is in a sheet: the header row found (or given), the rows above it set aside.

Real exports rarely start with the header: a CRM "formatted report" has a title, a line of notes,
a blank row, then a two-level header whose upper row groups columns ("Contact", "Schedule") and
whose lower row names them. Every reader yields numbered raw rows; :class:`Framed` looks at the
first rows, picks the one that reads most like a header (named cells, text, distinct, with data
filling the columns below it), and reports each row it skipped and why. ``--header-row N`` (the
spreadsheet's own row number) overrides the choice.

Usage::

    table = Framed(CsvSource.open(...), header_row=None)
    table.header_row, table.skipped      # 4, [SkippedRow(1, "a title or note above the header"), ...]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Protocol

from batchqueue.errors import HeaderError, InputFileError
from batchqueue.intake.sheets.headers import clean_headers
from batchqueue.intake.sheets.table import RawRow, SourceInfo

#: How many non-blank rows from the top are considered for the header.
LOOKAHEAD = 30
#: At most this many footer-like rows are held back before they are taken for data after all.
FOOTER_MAX = 50
FOOTER_WHY = "after the data, not a contact (a total, a note or a lone cell)"
_FOOTER_START = re.compile(
    r"(?:grand\s+)?(?:sub)?totals?\b|sum\b|count\b|record\s+count|rows\b|generated\b|report\s+generated|"
    r"exported\b|printed\b|page\s+\d|confidential|end\s+of\s+report|source\s*:|created\s+(?:by|on)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"[\s$€£+()\-–.,:/%0-9]+")
#: Header words that make a row more likely the header (normalised: lower case, letters only).
_COMMON_NAMES = frozenset(
    {
        "phone",
        "phonenumber",
        "mobile",
        "cell",
        "telephone",
        "tel",
        "number",
        "name",
        "firstname",
        "lastname",
        "fullname",
        "email",
        "account",
        "id",
        "customerid",
        "patientid",
        "city",
        "state",
        "zip",
        "zipcode",
        "postcode",
        "country",
        "region",
        "timezone",
        "notes",
        "note",
        "language",
        "start",
        "end",
        "calltime",
        "date",
        "telefono",
        "telefon",
        "telefone",
        "cellulare",
        "movil",
        "nombre",
        "apellido",
        "nom",
        "prenom",
    }
)


@dataclass(frozen=True)
class SkippedRow:
    """A row that is neither the header nor a contact, and why (``check --json`` ``skipped_rows``)."""

    row: int
    why: str


class RawSource(Protocol):
    """What a reader gives: its description, warnings, and every row numbered as the sheet numbers it."""

    info: SourceInfo
    warnings: list[str]

    def name_columns(self, names: list[str]) -> None: ...

    def raw_rows(self) -> Iterator[tuple[int, list[str]]]: ...

    def progress(self) -> tuple[int, int]: ...

    def close(self) -> None: ...


def _filled(cells: list[str]) -> list[str]:
    return [c.strip() for c in cells if c and c.strip()]


def _key(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.casefold().translate(str.maketrans("áéíóúñçèàü", "aeiounceau")))


def header_score(cells: list[str], below: list[list[str]]) -> float:
    """How much ``cells`` reads like a header row, given the rows under it."""
    filled = _filled(cells)
    if len(filled) < 2:
        return 0.0
    text = sum(1 for c in filled if not _NUMBER.fullmatch(c)) / len(filled)
    unique = len(set(filled)) / len(filled)
    columns = {i for i, c in enumerate(cells) if c and c.strip()}
    if below:
        # Data fills the header's columns: the share of them that the next rows use.
        support = sum(len(columns & {i for i, c in enumerate(r) if c and c.strip()}) for r in below) / (
            len(columns) * len(below)
        )
    else:
        support = 0.5
    known = sum(1 for c in filled if _key(c) in _COMMON_NAMES)
    return len(filled) * text * unique * (0.25 + support) + 2 * known


class Framed:
    """A table: the header found (or given) in a reader's raw rows, then the data rows framed to it."""

    def __init__(
        self, source: RawSource, *, header_row: int | None = None, nulls: frozenset[str] = frozenset()
    ) -> None:
        self.source = source
        self.nulls = nulls
        self.info = source.info
        self.warnings = source.warnings
        self.skipped: list[SkippedRow] = []
        self.blank_rows = 0
        self._rows = source.raw_rows()
        seen: list[tuple[int, list[str]]] = []
        try:
            for number, cells in self._rows:
                if not _filled(cells):
                    self.blank_rows += 1
                    if header_row is None or number < header_row:
                        continue
                seen.append((number, cells))
                if header_row is not None and number >= header_row:
                    break
                if header_row is None and len(seen) >= LOOKAHEAD:
                    break
        except BaseException:
            source.close()
            raise
        if not seen:
            source.close()
            where = f"sheet {self.info.sheet!r}" if self.info.sheet else "the file"
            raise InputFileError(self.info.path, f"{where} is empty" if self.info.sheet else "has no header row")
        at = self._pick(seen, header_row)
        number, cells = seen[at]
        upper = self._upper_row(seen, at)
        names = list(cells)
        if upper is not None:
            above = seen[at - 1][1]
            names += [""] * (len(above) - len(names))
            names = [low if low.strip() else (above[i] if i < len(above) else "") for i, low in enumerate(names)]
        for skipped_number, skipped_cells in seen[:at]:
            if upper is not None and skipped_number == seen[at - 1][0]:
                why = "the upper row of a two-level header (the row below names the columns)"
            else:
                why = "above the header row (a title, a note or a report heading)"
            if _filled(skipped_cells):
                self.skipped.append(SkippedRow(skipped_number, why))
        self.header_row = number
        try:
            self.headers = clean_headers(names, self.info.path)
        except HeaderError as exc:
            source.close()
            raise HeaderError(self.info.path, f"{exc.message} (taking row {number} as the header)") from None
        source.name_columns(self.headers)
        self._waiting = seen[at + 1 :]

    def _pick(self, seen: list[tuple[int, list[str]]], header_row: int | None) -> int:
        if header_row is not None:
            if seen[-1][0] != header_row:
                self.source.close()
                raise InputFileError(self.info.path, f"--header-row {header_row}: the sheet has no row {header_row}")
            if not _filled(seen[-1][1]):
                self.source.close()
                raise InputFileError(self.info.path, f"--header-row {header_row}: that row is blank")
            return len(seen) - 1
        rows = [cells for _, cells in seen]
        scores = [header_score(cells, rows[i + 1 : i + 6]) for i, cells in enumerate(rows)]
        best = max(range(len(rows)), key=lambda i: (scores[i], -i))
        return best if scores[best] > 0 else 0

    @staticmethod
    def _upper_row(seen: list[tuple[int, list[str]]], at: int) -> int | None:
        """The row right above the header when it is the upper half of a two-level header."""
        if at == 0 or seen[at - 1][0] != seen[at][0] - 1:
            return None
        upper, lower = _filled(seen[at - 1][1]), _filled(seen[at][1])
        if not upper or len(upper) >= len(lower) or any(_NUMBER.fullmatch(c) for c in upper):
            return None
        return at - 1

    def rows(self) -> Iterator[RawRow]:
        """Data rows; NULL markers read as empty; trailing rows that are not contacts set aside."""
        width = len(self.headers)
        waiting, self._waiting = self._waiting, []
        nulls = self.nulls
        # A narrow table has no footer to look for (see _footer_like): any row with a filled cell goes on.
        sparse = _sparse(width) if width >= _FOOTER_MIN_WIDTH else 0
        footer: list[tuple[int, list[str]]] = []  # rows that look like a footer, until the data goes on
        try:
            for number, cells in chain(waiting, self._rows):
                if nulls and not nulls.isdisjoint(cells):
                    cells = ["" if c in nulls else c for c in cells]
                # Most rows are too full to be a footer: a few C-level tests each, and on.
                if (
                    len(cells) - cells.count("") > sparse
                    and not footer
                    and (cells[0].strip() or "".join(cells).strip())
                ):
                    if len(cells) == width:
                        yield number, cells, []
                    else:
                        yield _fit(number, cells, width)
                    continue
                if not _filled(cells):
                    self.blank_rows += 1
                    continue
                if len(footer) < FOOTER_MAX and _footer_like(cells, width):
                    footer.append((number, cells))
                    continue
                if footer:
                    # More data after them: they were rows, not a footer.
                    for held_number, held in footer:
                        yield _fit(held_number, held, width)
                    footer.clear()
                yield _fit(number, cells, width)
            self.skipped.extend(SkippedRow(n, FOOTER_WHY) for n, _ in footer)
        finally:
            self.source.close()

    def progress(self) -> tuple[int, int]:
        return self.source.progress()

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> Framed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Tables narrower than this have no footer detection: a lone cell may well be a contact.
_FOOTER_MIN_WIDTH = 3


def _fit(number: int, cells: list[str], width: int) -> RawRow:
    """Cells aligned with the header: short rows padded, cells beyond it returned apart."""
    if len(cells) == width:
        return number, cells, []
    if len(cells) < width:
        return number, cells + [""] * (width - len(cells)), []
    return number, cells[:width], [c for c in cells[width:] if c.strip()]


def _footer_like(cells: list[str], width: int) -> bool:
    """A row a report puts after its data: a total, a "Generated by…" line, a lone cell."""
    if width < _FOOTER_MIN_WIDTH:
        return False  # a one- or two-column list: a lone cell may well be a contact
    filled = _filled(cells)
    if len(filled) == 1:
        text = filled[0]
        digits = sum(ch.isdigit() for ch in text)
        if digits >= 7 and sum(ch.isalpha() for ch in text) <= 6:
            return False  # a lone phone number ("617-555-0100 (cell)") is a contact
        # A count ("300"), a sentence ("Generated by Northwind CRM"); a lone name ("Cy") may be a
        # contact with no number, and is left for the validator to call invalid.
        return digits > 0 or len(text.split()) >= 3 or _FOOTER_START.match(text) is not None
    return len(filled) <= _sparse(width) and _FOOTER_START.match(filled[0]) is not None


def _sparse(width: int) -> int:
    """At most this many filled cells, a row may be a footer ("Total", …, "300")."""
    return max(2, width // 2)
