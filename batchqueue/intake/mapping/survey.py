"""What a file's columns hold, read before its rows are validated: the day/month order of each date
column, and whether a column taken for a field because of its name holds that field at all.

A date written ``12/03/2026`` reads as 12 March or as 3 December, and one value cannot say which;
its column usually can: a ``16/12/2026`` further down is day/month, and a CRM writes a column in one
format. So the date columns are read once before the rows are:

- a column whose values show one order is read that way throughout, and the check says so, naming
  the row that decided;
- a column of values either order could read, with none to decide, is refused once ("say
  --dayfirst or --monthfirst"), not row by row; it takes the order another date column of the file
  shows, if one does (and says so);
- a column showing both orders is read value by value (a warning says so): a value either order
  could read is then refused on its row.

``ASAP``, ``now`` and empty cells are no start (``fields.means_no_start``): counted and said, never
evidence. A column taken for a field from its name only (``Best Time to Call`` → start) whose values
are mostly not that field (``Morning``) is refused once, naming the options that fix it, rather than
refusing each of its rows.

Usage::

    survey = ColumnSurvey(mapping, table.headers)
    if survey.needed:
        for number, cells, _overflow in other_table.rows():
            survey.add(number, cells)
        mapping, notes = survey.decided()     # UsageError for a column that cannot be read
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from batchqueue.errors import UsageError
from batchqueue.intake.mapping.dates import DateReader, numeric_order
from batchqueue.intake.mapping.fields import FieldReader, means_no_start
from batchqueue.intake.mapping.phones import PhoneError, PhoneParser
from batchqueue.intake.mapping.resolve import ResolvedMapping
from batchqueue.intake.mapping.spec import FIELD_WORDS, NO_COLUMN
from batchqueue.intake.mapping.times import TimeParser
from batchqueue.untrusted import printable

DATE_FIELDS = ("start", "end")
_UNIX = re.compile(r"\d{9,11}(?:\.0+)?")
_WORDS = {"day": "day/month/year", "month": "month/day/year"}


@dataclass
class _DateColumn:
    """The evidence one date column gives about its day/month order."""

    field: str
    column: str
    at: int
    day: tuple[int, str] | None = None  # the first value only day/month reads: (row, value)
    month: tuple[int, str] | None = None
    either: int = 0
    either_first: tuple[int, str] | None = None
    no_start: int = 0

    def add(self, number: int, value: str) -> None:
        if self.field == "start" and means_no_start(value):
            self.no_start += 1
            return
        kind = numeric_order(value)
        if kind == "day" and self.day is None:
            self.day = (number, value)
        elif kind == "month" and self.month is None:
            self.month = (number, value)
        elif kind == "either":
            self.either += 1
            if self.either_first is None:
                self.either_first = (number, value)

    @property
    def order(self) -> str | None:
        """The order its values show, when they show exactly one."""
        if (self.day is None) == (self.month is None):
            return None
        return "day" if self.day is not None else "month"


@dataclass
class _Fit:
    """How many values of a column guessed for ``field`` read as that field."""

    field: str
    column: str
    at: int
    read: Callable[[str], Any]
    good: int = 0
    bad: int = 0
    first_bad: tuple[int, str] | None = None

    def add(self, number: int, value: str) -> None:
        try:
            self.read(value)
        except (ValueError, PhoneError) as exc:
            self.bad += 1
            if self.first_bad is None:
                self.first_bad = (number, str(exc))
        else:
            self.good += 1


class ColumnSurvey:
    """Reads a file's date columns and guessed columns before its rows (see the module docstring)."""

    def __init__(self, mapping: ResolvedMapping, headers: list[str]) -> None:
        self.mapping = mapping
        index = {name: i for i, name in enumerate(headers)}
        given = DateReader(mapping.date_formats, mapping.dayfirst, mapping.monthfirst).order
        self.dates = [
            _DateColumn(key, column, index[column])
            for key, column in mapping.columns.items()
            if key in DATE_FIELDS and given is None
        ]
        guessed = {g.field for g in mapping.guesses}
        fields = FieldReader(PhoneParser(mapping.region), TimeParser("UTC"))
        self.fits = [
            _Fit(key, column, index[column], self._date_fit(key) if key in DATE_FIELDS else _reader(fields, key))
            for key, column in mapping.columns.items()
            if key in guessed
        ]

    @property
    def needed(self) -> bool:
        """Whether any column needs reading before the rows."""
        return bool(self.dates or self.fits)

    def _date_fit(self, key: str) -> Callable[[str], Any]:
        either_order = DateReader(self.mapping.date_formats, dayfirst=True)

        def read(value: str) -> None:
            if (key == "start" and means_no_start(value)) or _UNIX.fullmatch(value) or numeric_order(value):
                return
            try:
                either_order.read(value)
            except ValueError:
                raise ValueError(f"{printable(value, 60)!r} is not a date-time batchqueue can read") from None

        return read

    def add(self, number: int, cells: list[str]) -> None:
        """One row's cells (as the table gives them)."""
        for column in self.dates:
            value = cells[column.at].strip()
            if value:
                column.add(number, value)
        for fit in self.fits:
            value = cells[fit.at].strip()
            if value:
                fit.add(number, value)

    def decided(self) -> tuple[ResolvedMapping, list[str]]:
        """The mapping with each date column's order, and what was found (in words); a
        :class:`UsageError` for a guessed column that does not hold its field, or a date column no
        value of which decides its order."""
        for fit in self.fits:
            if fit.bad > fit.good:
                row, why = fit.first_bad or (0, "")
                raise UsageError(
                    f"column {fit.column!r} was taken as {fit.field} ({FIELD_WORDS[fit.field]}) from its name, but "
                    f"{fit.bad} of its {fit.bad + fit.good} values are not that (row {row}: {why}); name the right "
                    f"column with --column {fit.field}=COLUMN, or --column {fit.field}={NO_COLUMN} to send it as "
                    "metadata"
                )
        orders: dict[str, str] = {}
        notes: list[str] = []
        warnings: list[str] = []
        shown = [c for c in self.dates if c.order is not None]
        for column in self.dates:
            order = column.order
            if column.day is not None and column.month is not None:
                warnings.append(
                    f"column {column.column!r} has dates only day/month reads (row {column.day[0]}: "
                    f"{column.day[1]!r}) and dates only month/day reads (row {column.month[0]}: {column.month[1]!r}): "
                    "each is read the one way it can be, and a date either order could read is refused; say "
                    "--dayfirst or --monthfirst to read them all one way"
                )
            elif order is not None:
                row, value = column.day or column.month or (0, "")
                note = (
                    f"dates in column {column.column!r} read {_WORDS[order]}, as row {row} shows ({value!r} can only "
                    f"be {_WORDS[order].rsplit('/', 1)[0]})"
                )
                if column.either:
                    note += f"; {column.either} value(s) either order could read are read that way too"
                notes.append(note)
                orders[column.field] = order
            elif column.either:
                sibling = next((c for c in shown if c.order is not None), None)
                row, value = column.either_first or (0, "")
                if sibling is None:
                    raise UsageError(
                        f"column {column.column!r}: {column.either} date(s) such as {value!r} (row {row}) read as "
                        "day/month or month/day, and no value in the column decides; say --dayfirst or --monthfirst"
                    )
                sibling_order = sibling.order or "day"
                orders[column.field] = sibling_order
                notes.append(
                    f"dates in column {column.column!r} read {_WORDS[sibling_order]}, as column {sibling.column!r} "
                    f"of the same file shows ({column.either} value(s) either order could read)"
                )
            if column.no_start:
                notes.append(
                    f"column {column.column!r}: {column.no_start} row(s) say ASAP or now: no start, called as soon "
                    "as their calling hours allow"
                )
        mapping = replace(self.mapping, date_orders=orders, warnings=(*self.mapping.warnings, *warnings))
        return mapping, notes


def _reader(fields: FieldReader, key: str) -> Callable[[str], Any]:
    def read(value: str) -> Any:
        return fields.parse(key, value)

    return read
