"""The row loop of an import: a table's rows become ledger rows, and the result is tallied.

Shared by :mod:`batchqueue.intake.importer` (in this process) and :mod:`batchqueue.intake.validator_process`
(the validating helper process of large imports), so both load exactly the same way.

Usage::

    table, result = open_and_fit(path, spec, now)
    for new_row in RowLoader(table, result, now, max_problems=20):
        ...
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from batchqueue.errors import UsageError
from batchqueue.intake.mapping.resolve import ResolvedMapping, null_markers, resolve
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.mapping.validate import Reason, RowValidator
from batchqueue.intake.mapping.where import RowFilter
from batchqueue.intake.rules import RowRule
from batchqueue.intake.sheets import SkippedRow, SourceInfo, Table, column_letter, open_table
from batchqueue.ledger.records import NewRow
from batchqueue.lifecycle import RowState

Progress = Callable[[int, int], None]
#: Where an import's invalid rows go as they are found (``check --errors-out``).
InvalidSink = Callable[[int, list[str], list[Reason]], None]
_PROGRESS_EVERY = 8192
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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
    blank: int = 0
    header_row: int = 1
    skipped_rows: list[SkippedRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    row_warnings: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    job_id: int | None = None
    created: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` object (its keys are part of the CLI contract)."""
        out: dict[str, Any] = {}
        if self.job_id is not None:
            out |= {"job_id": self.job_id, "created": self.created}
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
            "blank": self.blank,
            "mapping": self.mapping.as_dict(),
            "problems": [
                {"row": p.row, "column": p.column, "column_letter": p.letter, "reason": p.reason} for p in self.problems
            ],
            "row_warnings": [
                {"row": p.row, "column": p.column, "column_letter": p.letter, "warning": p.reason}
                for p in self.row_warnings
            ],
            "warnings": self.warnings,
        }
        return out


class RowLoader:
    """Turns a table's rows into :class:`NewRow` while tallying a :class:`LoadResult`."""

    def __init__(
        self,
        table: Table,
        result: LoadResult,
        now: int,
        max_problems: int,
        sink: InvalidSink | None = None,
        progress: Progress | None = None,
        rules: Sequence[RowRule] = (),
    ) -> None:
        self.table, self.result, self.now = table, result, now
        self.validator = RowValidator(result.mapping, table.headers, now, rules)
        self.max_problems, self.sink, self.progress = max_problems, sink, progress
        self.letters = {name: column_letter(i) for i, name in enumerate(table.headers)}

    def _row_warning(self, number: int, facts: dict[str, Any]) -> None:
        if len(self.result.row_warnings) < self.max_problems:
            column = self.result.mapping.phone_column
            self.result.row_warnings.append(Problem(number, column, self.letters.get(column), facts["phone_read_as"]))

    def _problem(self, number: int, reasons: list[Reason]) -> None:
        for column, why in reasons:
            if len(self.result.problems) >= self.max_problems:
                return
            letter = self.letters.get(column) if column else None
            self.result.problems.append(Problem(number, column, letter, why))

    def __iter__(self) -> Iterator[NewRow]:
        # The hot loop of an import: locals instead of attributes, one NewRow per row.
        result, check, sink, progress = self.result, self.validator.check, self.sink, self.progress
        phone_column = result.mapping.phone_column
        allow_dupes = result.mapping.allow_duplicates
        first_seen: dict[int | str, int] = {}
        created = float(self.now)
        pending, invalid, duplicate = RowState.PENDING.value, RowState.INVALID.value, RowState.DUPLICATE.value
        filtered = RowState.FILTERED.value
        left_out = RowFilter(result.mapping.where, self.table.headers) if result.mapping.where else None
        tokens, used = "", 0
        n_rows = n_valid = n_invalid = n_dup = n_filtered = 0
        row = NewRow
        try:
            for number, cells, overflow in self.table.rows():
                n_rows += 1
                if progress and not n_rows % _PROGRESS_EVERY:
                    progress(*self.table.progress())
                if left_out is not None:
                    failed = left_out(cells)
                    if failed is not None:
                        n_filtered += 1
                        why = encode_json([[failed.column, f"filtered out by --where {failed.text}"]])
                        yield row(
                            number, encode_json(cells), None, None, None, None, None, None, None,
                            filtered, why, None, None, created, None,
                        )  # fmt: skip
                        continue
                request, reasons, facts = check(cells, overflow, number)
                if request is None:
                    n_invalid += 1
                    self._problem(number, reasons)
                    if sink:
                        sink(number, cells, reasons)
                    yield row(
                        number, encode_json(cells), None, None, None, None, None, None, None,
                        invalid, encode_json(reasons), None, None, created, None,
                    )  # fmt: skip
                    continue
                first = number if allow_dupes else first_seen.setdefault(request.dedupe_key, number)
                facts_json = None
                if facts:
                    facts_json = encode_json(facts)
                    if "phone_read_as" in facts:
                        self._row_warning(number, facts)
                if first != number:
                    n_dup += 1
                    why = encode_json([[phone_column, f"same number as row {first}"]])
                    yield row(
                        number, encode_json(cells), request.phone_number, request.e164, request.start, request.end,
                        request.max_attempts, request.reattempt_wait, request.result_url,
                        duplicate, why, first, None, created, facts_json,
                    )  # fmt: skip
                    continue
                n_valid += 1
                if used == len(tokens):  # 128-bit callback tokens, drawn from the OS in bulk
                    tokens, used = os.urandom(16 * 1024).hex(), 0
                yield row(
                    number, encode_json(cells), request.phone_number, request.e164, request.start, request.end,
                    request.max_attempts, request.reattempt_wait, request.result_url,
                    pending, None, None, tokens[used : used + 32], created, facts_json,
                )  # fmt: skip
                used += 32
        finally:
            result.rows, result.valid, result.invalid, result.duplicate = n_rows, n_valid, n_invalid, n_dup
            result.filtered = n_filtered
        result.blank = self.table.blank_rows
        result.header_row = self.table.header_row
        result.skipped_rows = list(self.table.skipped)
        result.warnings.extend(self.table.warnings)
        result.warnings.extend(f"{n} row(s): {w}" for w, n in self.validator.warnings.items())
        if progress:
            progress(*self.table.progress())


def open_and_fit(path: Path, spec: MappingSpec, now: int) -> tuple[Table, LoadResult]:
    """Open ``path`` and fit the mapping to its header; the table is closed if that fails."""
    table = open_table(
        path, sheet=spec.sheet, delimiter=spec.delimiter, header_row=spec.header_row, nulls=null_markers(spec)
    )
    try:
        resolved = resolve(spec, table.headers, now=now)
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
    )
    if table.info.encoding_note:
        result.warnings.append(f"encoding: {table.info.encoding_note}")
    return table, result
