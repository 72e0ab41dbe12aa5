"""A page of Insight's saved survey report (``GET /report/{report_id}``, ``text/csv``) read into visits.

Documented (Insight API, "Survey Response Reporting"): the columns begin ``"Survey ID","Survey
Name","Visit Type","Caller ID/IP Address","Phone Number",Start,End,Completed``, followed by one
column per question. The fixed columns are found by name (any letter case, spaces or BOM), and
the questions are the columns after ``Completed``. A question's answer is kept exactly as the
report wrote it; two questions with the same text are told apart as ``text (2)``.

A record that cannot be read (a cell with an unclosed quote, more cells than the header names) is
set aside with its place on the page and why; a page that is no report at all (no ``Phone Number``
column: an HTML login page, say) is a :class:`ReportFormatError`.

Usage::

    page = read_page(text)
    page.columns.questions        # ("How satisfied were you?", ...)
    for visit in page.visits: visit.phone, visit.start, visit.answers
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from batchqueue.untrusted import printable, storable

#: The documented fixed columns, by their name folded (lower case, single spaces).
FIXED = {
    "survey id": "survey_id",
    "survey name": "survey_name",
    "visit type": "visit_type",
    "caller id/ip address": "caller",
    "phone number": "phone",
    "start": "start",
    "end": "end",
    "completed": "completed",
}
REQUIRED = ("visit_type", "phone", "start")
#: A report with more columns than this is not read (a survey has a few dozen questions).
MAX_COLUMNS = 2_000
#: Lines set aside on one page that are located one by one (the rest are counted).
MAX_LOCATED = 20


class ReportFormatError(ValueError):
    """The page is not a survey report batchqueue can read; the message says why."""


def _folded(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).casefold()


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


@dataclass(frozen=True)
class Columns:
    """Where each fixed column is, and the questions (their names, unique) with their positions."""

    at: dict[str, int]
    questions: tuple[str, ...]
    question_at: tuple[int, ...]
    width: int

    @classmethod
    def of(cls, header: list[str]) -> Columns:
        if len(header) > MAX_COLUMNS:
            raise ReportFormatError(f"the report has {len(header):,} columns; at most {MAX_COLUMNS:,} are read")
        at: dict[str, int] = {}
        for i, name in enumerate(header):
            key = FIXED.get(_folded(name))
            if key is not None and key not in at:
                at[key] = i
        missing = [name for name, key in FIXED.items() if key in REQUIRED and key not in at]
        if missing:
            shown = ", ".join(repr(printable(h, 40)) for h in header[:10]) or "nothing"
            raise ReportFormatError(
                f"this is not a survey report: no {' or '.join(repr(m.title()) for m in missing)} column "
                f"(its first line holds {shown})"
            )
        first = at["completed"] + 1 if "completed" in at else max(at.values()) + 1
        taken: set[str] = set()
        questions: list[str] = []
        for i in range(first, len(header)):
            name = _unique(storable(header[i].strip()) or f"Question {i - first + 1}", taken)
            taken.add(name)
            questions.append(name)
        return cls(at, tuple(questions), tuple(range(first, len(header))), len(header))


class Visit(NamedTuple):
    """One record of the report, as written: the fixed cells and the answers (question -> answer).
    ``line`` is its place on the page (1 = the first record after the header)."""

    line: int
    survey_id: str
    visit_type: str
    caller: str
    phone: str
    start: str
    end: str
    completed: str
    answers: dict[str, str]


@dataclass
class Page:
    """A page read: its columns, its visits, and the lines set aside (the first located)."""

    columns: Columns
    visits: list[Visit] = field(default_factory=list)
    unreadable: int = 0
    located: list[tuple[int, str]] = field(default_factory=list)  # (record, why)
    lines: int = 0  # records after the header, blank ones excluded

    def set_aside(self, line: int, why: str) -> None:
        self.unreadable += 1
        if len(self.located) < MAX_LOCATED:
            self.located.append((line, why))


def read_page(text: str) -> Page:
    """The visits of one page of the report (see the module docstring)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    header = _next_record(reader)
    while header is not None and not any(cell.strip() for cell in header):
        header = _next_record(reader)
    if header is None or isinstance(header, str):
        why = "the report is empty" if header is None else f"its first line cannot be read ({header})"
        raise ReportFormatError(why)
    page = Page(Columns.of(header))
    cols = page.columns
    get = cols.at.get
    fixed = {key: get(key) for key in FIXED.values()}
    while True:
        record = _next_record(reader)
        if record is None:
            break
        if isinstance(record, str):
            page.lines += 1
            page.set_aside(page.lines, record)
            continue
        if not any(cell.strip() for cell in record):
            continue
        page.lines += 1
        line = page.lines
        if len(record) > cols.width and any(cell.strip() for cell in record[cols.width :]):
            page.set_aside(line, f"it has {len(record)} cells, the header names {cols.width}")
            continue
        if len(record) < cols.width:
            record += [""] * (cols.width - len(record))

        def cell(key: str, record: list[str] = record) -> str:
            at = fixed[key]
            return "" if at is None else storable(record[at])

        answers = {q: storable(record[i]) for q, i in zip(cols.questions, cols.question_at, strict=True)}
        page.visits.append(
            Visit(
                line,
                cell("survey_id"),
                cell("visit_type"),
                cell("caller"),
                cell("phone"),
                cell("start"),
                cell("end"),
                cell("completed"),
                answers,
            )
        )
    return page


def _next_record(reader: Iterator[list[str]]) -> list[str] | str | None:
    """The next record, None at the end, or why it cannot be read (the reader goes on after it)."""
    try:
        record: list[str] = next(reader)
        return record
    except StopIteration:
        return None
    except csv.Error as exc:
        return f"not CSV ({exc})"
