"""The row loop of an import: a table's rows become ledger rows, and the result is tallied.

Shared by :mod:`batchqueue.intake.importer` (in this process) and :mod:`batchqueue.intake.validator_process`
(the validating helper process of large imports), so both load exactly the same way.

Usage::

    table, result = open_and_fit(path, spec, now)
    for run in RowLoader(table, result, now, max_problems=20):
        ...
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from batchqueue.errors import UsageError
from batchqueue.intake.mapping.resolve import ResolvedMapping, null_markers, resolve
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.mapping.survey import ColumnSurvey
from batchqueue.intake.mapping.validate import Reason, RowValidator
from batchqueue.intake.mapping.where import RowFilter
from batchqueue.intake.rules import RowRule
from batchqueue.intake.sheets import SkippedRow, SourceInfo, Table, column_letter, open_table
from batchqueue.ledger.records import BARE, FULL, PLAIN, RUN_MAX, Overlap, RowRun, mint_tokens
from batchqueue.lifecycle import IMPORTED, RowState

Progress = Callable[[int, int], None]
#: Where an import's invalid rows go as they are found (``check --errors-out``).
InvalidSink = Callable[[int, list[str], list[Reason]], None]
_PROGRESS_EVERY = 8192
#: A request with no start, end, attempts, wait or result URL: its row can be a plain one.
_NO_EXTRAS = (None, None, None, None, None)
# The states a row is imported in, as stored (an enum member's .value costs ~0.3 µs a look-up).
_PENDING, _INVALID, _DUPLICATE, _FILTERED = (
    IMPORTED.value, RowState.INVALID.value, RowState.DUPLICATE.value, RowState.FILTERED.value,
)  # fmt: skip
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_quoted = json.encoder.encode_basestring  # C: a str as a JSON string, non-ASCII kept


def encode_cells(cells: list[str]) -> str:
    """``encode_json(cells)`` for a row of text, at a third of its cost (the import's hottest call)."""
    return "[" + ",".join(map(_quoted, cells)) + "]"


def encode_reasons(reasons: Sequence[Reason]) -> str:
    """``encode_json(reasons)`` for (column or None, why) pairs, at a seventh of its cost (every
    invalid and duplicate row has them)."""
    return "[" + ",".join(f"[{'null' if c is None else _quoted(c)},{_quoted(why)}]" for c, why in reasons) + "]"


@dataclass
class Problem:
    """One reason one row is invalid, located as a spreadsheet user would look for it."""

    row: int
    column: str | None
    letter: str | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}"
        if self.column:
            where += f", column {self.column!r}" + (f" ({self.letter})" if self.letter else "")
        return f"{where}: {self.reason}"


@dataclass
class LoadResult:
    """Counts and findings of a check or an import."""

    source: SourceInfo
    mapping: ResolvedMapping
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    duplicate: int = 0
    filtered: int = 0
    suppressed: int = 0  # a do-not-call list, re-contact protection, the job's cap (known once the rows are in)
    #: The same by reason: "dnc", "recontact", "max-contacts" (as ``run``'s summary says them).
    suppressed_by: dict[str, int] = field(default_factory=dict)
    blank: int = 0
    header_row: int = 1
    skipped_rows: list[SkippedRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    row_warnings: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What was read from the columns themselves (a date column's day/month order, ASAP cells).
    notes: list[str] = field(default_factory=list)
    job_id: int | None = None
    created: bool = False
    #: Other jobs made from the same file for the same survey and instance (import only).
    overlaps: list[Overlap] = field(default_factory=list)
    #: The job's rules by name (import only; ``batchqueue.calling.registry.rules_json``).
    rules: dict[str, Any] | None = None
    #: Jobs of the same file and mapping with other rules: (job id, how their rules differ).
    other_rules: list[tuple[int, list[str]]] = field(default_factory=list)
    #: Rows the re-contact rules suppressed at import: ``{"period", "rows", "jobs": [{"job_id", "rows"}]}``.
    recontacted: dict[str, Any] | None = None
    seconds: float = 0.0
    #: A check's preview of where the valid contacts are (``batchqueue.calling.preview.ContactPreview``).
    preview: Any = None
    #: Whether the file was read once before its rows (a date or guessed column): a progress bar's first half.
    surveyed: bool = field(default=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` object (its keys are part of the CLI contract)."""
        out: dict[str, Any] = {}
        if self.job_id is not None:
            out |= {
                "job_id": self.job_id,
                "created": self.created,
                "overlaps": [
                    {"job_id": o.job_id, "numbers": o.numbers, "suppressed": o.suppressed} for o in self.overlaps
                ],
                "rules": self.rules,
                "other_rules": [{"job_id": j, "differences": d} for j, d in self.other_rules],
                "recontacted": self.recontacted,
            }
        out |= {
            "file": self.source.path,
            "kind": self.source.kind,
            "sha256": self.source.sha256,
            "encoding": self.source.encoding,
            "encoding_note": self.source.encoding_note,
            "delimiter": self.source.delimiter,
            "sheet": self.source.sheet,
            "header_row": self.header_row,
            "skipped_rows": [{"row": s.row, "why": s.why} for s in self.skipped_rows],
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "duplicate": self.duplicate,
            "filtered": self.filtered,
            "suppressed": self.suppressed,
            "suppressed_by": self.suppressed_by,
            "blank": self.blank,
            "mapping": self.mapping.as_dict(),
            "guesses": [{"field": g.field, "column": g.column, "undo": g.undo} for g in self.mapping.guesses],
            "notes": self.notes,
            "problems": [
                {"row": p.row, "column": p.column, "column_letter": p.letter, "reason": p.reason} for p in self.problems
            ],
            "row_warnings": [
                {"row": p.row, "column": p.column, "column_letter": p.letter, "warning": p.reason}
                for p in self.row_warnings
            ],
            "warnings": self.warnings,
        }
        if self.preview is not None:
            out["preview"] = self.preview.as_dict()
        return out


class RowLoader:
    """Turns a table's rows into ledger rows (:class:`RowRun` batches) while tallying a :class:`LoadResult`."""

    def __init__(
        self,
        table: Table,
        result: LoadResult,
        now: int,
        max_problems: int,
        sink: InvalidSink | None = None,
        progress: Progress | None = None,
        rules: Sequence[RowRule] = (),
        *,
        bare_cells: Callable[[list[str]], str] = encode_cells,
    ) -> None:
        """``bare_cells``: how a bare run carries its rows' cells (the JSON the ledger stores, unless
        whoever takes the runs makes that JSON itself: see :mod:`batchqueue.intake.validator_process`)."""
        self.table, self.result, self.now = table, result, now
        self.bare_cells = bare_cells
        self.validator = RowValidator(result.mapping, table.headers, now, rules)
        self.max_problems, self.sink, self.progress = max_problems, sink, progress
        self.letters = {name: column_letter(i) for i, name in enumerate(table.headers)}
        where = result.mapping.where
        self._left_out = RowFilter(where, table.headers) if where else None
        self._counts: Counter[str] = Counter()

    def _row_warning(self, number: int, facts: dict[str, Any]) -> None:
        mapping = self.result.mapping
        for key, column in (
            ("phone_read_as", mapping.phone_column),
            ("timezone_unread", mapping.timezone_column),
            ("state_unread", mapping.state_column),
        ):
            if key in facts and column and len(self.result.row_warnings) < self.max_problems:
                self.result.row_warnings.append(Problem(number, column, self.letters.get(column), facts[key]))

    def _problem(self, number: int, reasons: list[Reason]) -> None:
        for column, why in reasons:
            if len(self.result.problems) >= self.max_problems:
                return
            letter = self.letters.get(column) if column else None
            self.result.problems.append(Problem(number, column, letter, why))

    def __iter__(self) -> Iterator[RowRun]:
        """The rows in file order, as runs of one shape (see :class:`RowRun`), at most RUN_MAX each."""
        # The hot loop of an import. Most rows are "bare" (a plain valid number, the request that
        # number alone): they are kept in three columns, and the ledger binds 4 values each. Every
        # other row is a tuple in a plain or full run. Runs are cut when the shape changes, so the
        # rows stay in file order.
        result, check, progress = self.result, self.validator.check, self.progress
        phone_column = result.mapping.phone_column
        allow_dupes = result.mapping.allow_duplicates
        first_seen: dict[int | str, int] = {}
        created = float(self.now)
        plain_digits = self.validator.plain_digits if self._left_out is None else None
        phone_at = self.table.headers.index(phone_column)
        shared = (created, *self.validator.job_fields)
        n_rows = n_valid = 0
        numbers: list[int] = []  # the bare run, in columns
        cells_json: list[str] = []
        e164s: list[str] = []
        run: list[tuple[Any, ...]] = []  # the plain or full run
        run_shape = PLAIN
        ready: list[RowRun] = []
        tokens: list[str] = []
        bare_cells = self.bare_cells

        def add(shape: str, row: tuple[Any, ...]) -> None:
            """A row that is not bare: closes the bare run, and the tuple run if of another shape."""
            nonlocal numbers, cells_json, e164s, run, run_shape
            if numbers:
                ready.append(RowRun(BARE, (numbers, cells_json, e164s), shared))
                numbers, cells_json, e164s = [], [], []
            if run and (shape != run_shape or len(run) >= RUN_MAX):
                ready.append(RowRun(run_shape, run))
                run = []
            run_shape = shape
            run.append(row)

        def token() -> str:
            if not tokens:
                tokens.extend(mint_tokens(1024))
            return tokens.pop()

        try:
            for number, cells, overflow in self.table.rows():
                n_rows += 1
                if progress is not None and not n_rows % _PROGRESS_EVERY:
                    progress(*self.table.progress())
                if plain_digits is not None and not overflow:
                    # The common row, the fast way (exactly what check() makes of it; a test
                    # compares the two paths).
                    digits = plain_digits(cells[phone_at])
                    if digits is not None:
                        e164 = "+1" + digits
                        if allow_dupes or first_seen.setdefault(int(digits) + 10_000_000_000, number) == number:
                            if run:
                                yield RowRun(run_shape, run)
                                run = []
                            n_valid += 1
                            numbers.append(number)
                            cells_json.append(bare_cells(cells))
                            e164s.append(e164)
                            if len(numbers) >= RUN_MAX:
                                yield RowRun(BARE, (numbers, cells_json, e164s), shared)
                                numbers, cells_json, e164s = [], [], []
                            continue
                self._row(number, cells, overflow, add, check, token, first_seen, allow_dupes, phone_column, created)
                if ready:
                    yield from ready
                    ready.clear()
            if numbers:
                yield RowRun(BARE, (numbers, cells_json, e164s), shared)
            if run:
                yield RowRun(run_shape, run)
        finally:
            counts = self._counts
            result.rows = n_rows
            result.valid = n_valid + counts[_PENDING]
            result.invalid, result.duplicate, result.filtered = counts[_INVALID], counts[_DUPLICATE], counts[_FILTERED]
        result.blank = self.table.blank_rows
        result.header_row = self.table.header_row
        result.skipped_rows = list(self.table.skipped)
        result.warnings.extend(self.table.warnings)
        result.warnings.extend(f"{n} row(s): {w}" for w, n in self.validator.warnings.items())
        if progress:
            progress(*self.table.progress())

    def _row(
        self,
        number: int,
        cells: list[str],
        overflow: list[str],
        add: Callable[[str, tuple[Any, ...]], None],
        check: Callable[..., Any],
        token: Callable[[], str],
        first_seen: dict[int | str, int],
        allow_dupes: bool,
        phone_column: str,
        created: float,
    ) -> None:
        """Any row the fast way did not take: filtered, invalid, duplicate, or valid with more to it."""
        counts = self._counts
        if self._left_out is not None:
            failed = self._left_out(cells)
            if failed is not None:
                counts[_FILTERED] += 1
                why = encode_reasons([(failed.column, f"filtered out by --where {failed.text}")])
                add(FULL, (
                    number, encode_cells(cells), None, None, None, None, None, None, None,
                    _FILTERED, why, None, None, created, None,
                ))  # fmt: skip
                return
        request, reasons, facts = check(cells, overflow, number)
        if request is None:
            counts[_INVALID] += 1
            self._problem(number, reasons)
            if self.sink:
                self.sink(number, cells, reasons)
            add(FULL, (
                number, encode_cells(cells), None, None, None, None, None, None, None,
                _INVALID, encode_reasons(reasons), None, None, created, None,
            ))  # fmt: skip
            return
        first = number if allow_dupes else first_seen.setdefault(request.dedupe_key, number)
        facts_json = None
        if facts:
            facts_json = encode_json(facts)
            if "phone_read_as" in facts or "timezone_unread" in facts or "state_unread" in facts:
                self._row_warning(number, facts)
        if first != number:
            counts[_DUPLICATE] += 1
            why = encode_reasons([(phone_column, f"same number as row {first}")])
            add(FULL, (
                number, encode_cells(cells), request.phone_number, request.e164, request.start, request.end,
                request.max_attempts, request.reattempt_wait, request.result_url,
                _DUPLICATE, why, first, None, created, facts_json,
            ))  # fmt: skip
            return
        counts[_PENDING] += 1
        if facts_json is None and request[3:] == _NO_EXTRAS:
            add(PLAIN, (number, encode_cells(cells), request.phone_number, request.e164, token(), created))
            return
        add(FULL, (
            number, encode_cells(cells), request.phone_number, request.e164, request.start, request.end,
            request.max_attempts, request.reattempt_wait, request.result_url,
            _PENDING, None, None, token(), created, facts_json,
        ))  # fmt: skip


def _surveyed(
    path: Path, spec: MappingSpec, mapping: ResolvedMapping, headers: list[str], progress: Progress | None
) -> tuple[ResolvedMapping, list[str], bool]:
    """The mapping with what the columns themselves show (see :mod:`~batchqueue.intake.mapping.survey`),
    what was found, and whether the file was read for it (only when a date or guessed column needs it)."""
    survey = ColumnSurvey(mapping, headers)
    if not survey.needed:
        return mapping, [], False
    with open_table(
        path, sheet=spec.sheet, delimiter=spec.delimiter, header_row=spec.header_row, nulls=null_markers(spec)
    ) as table:
        for n, (number, cells, _overflow) in enumerate(table.rows(), 1):
            survey.add(number, cells)
            if progress is not None and not n % _PROGRESS_EVERY:
                progress(*table.progress())
    return *survey.decided(), True


def first_half(progress: Progress | None) -> Progress | None:
    """``progress`` for a first pass over a file (the bar's first half)."""
    return None if progress is None else lambda done, total: progress(done, 2 * total)


def second_half(progress: Progress | None) -> Progress | None:
    """``progress`` for a second pass over a file (the bar's second half)."""
    return None if progress is None else lambda done, total: progress(total + done, 2 * total)


def open_and_fit(
    path: Path,
    spec: MappingSpec,
    now: int,
    *,
    header_only: bool = False,
    hash_as_read: bool = False,
    progress: Progress | None = None,
) -> tuple[Table, LoadResult]:
    """Open ``path`` and fit the mapping to its header; the table is closed if that fails.

    ``header_only``: the caller will not read the rows (another process does). ``hash_as_read``:
    see :func:`~batchqueue.intake.sheets.open_table`. Unless ``header_only``, the columns that need
    it are read first (``progress`` is told), for the day/month order of dates and to check guesses
    (:mod:`~batchqueue.intake.mapping.survey`); ``result.surveyed`` says whether they were."""
    table = open_table(
        path,
        sheet=spec.sheet,
        delimiter=spec.delimiter,
        header_row=spec.header_row,
        nulls=null_markers(spec),
        header_only=header_only,
        hash_as_read=hash_as_read,
    )
    notes: list[str] = []
    surveyed = False
    try:
        resolved = resolve(spec, table.headers, now=now)
        if not header_only:
            resolved, notes, surveyed = _surveyed(path, spec, resolved, table.headers, progress)
    except UsageError as exc:
        table.close()
        if table.header_row > 1 or table.skipped:
            raise UsageError(
                f"{exc} (taking row {table.header_row} as the header; --header-row N picks another)"
            ) from None
        raise
    except BaseException:
        table.close()
        raise
    resolved = replace(resolved, sheet=table.info.sheet, delimiter=table.info.delimiter)
    result = LoadResult(
        source=table.info,
        mapping=resolved,
        warnings=list(resolved.warnings),
        header_row=table.header_row,
        skipped_rows=list(table.skipped),
        notes=notes,
        surveyed=surveyed,
    )
    if table.info.encoding_note:
        result.warnings.append(f"encoding: {table.info.encoding_note}")
    return table, result
