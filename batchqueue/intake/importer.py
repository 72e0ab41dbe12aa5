"""Spreadsheet → validated rows → ledger: the ``check`` and ``import`` jobs.

Usage::

    result = check_file(Path("contacts.csv"), MappingSpec())
    result = import_file(ledger, Path("contacts.csv"), MappingSpec(), survey_id="123", instance_id="1")
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from batchqueue.errors import UsageError
from batchqueue.intake.helper import PARALLEL_MIN_BYTES, validated_elsewhere
from batchqueue.intake.mapping import MappingSpec, Reason, ResolvedMapping, RowValidator, resolve
from batchqueue.intake.sheets import SourceInfo, Table, column_letter, open_table
from batchqueue.ledger import Ledger
from batchqueue.ledger.schema import RowState
from batchqueue.reports import InvalidRowsWriter

Progress = Callable[[int, int], None]
_PROGRESS_EVERY = 8192
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_NO_REQUEST = (None,) * 7


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
    blank: int = 0
    problems: list[Problem] = field(default_factory=list)
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
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "duplicate": self.duplicate,
            "blank": self.blank,
            "mapping": self.mapping.as_dict(),
            "problems": [
                {"row": p.row, "column": p.column, "column_letter": p.letter, "reason": p.reason} for p in self.problems
            ],
            "warnings": self.warnings,
        }
        return out


class _Rows:
    """Turns a table's rows into ledger tuples while tallying a :class:`LoadResult`."""

    def __init__(
        self,
        table: Table,
        result: LoadResult,
        now: int,
        max_problems: int,
        sink: InvalidRowsWriter | None,
        progress: Progress | None,
    ) -> None:
        self.table, self.result, self.now = table, result, now
        self.validator = RowValidator(result.mapping, table.headers, now)
        self.max_problems, self.sink, self.progress = max_problems, sink, progress
        self.letters = {name: column_letter(i) for i, name in enumerate(table.headers)}

    def _problem(self, number: int, reasons: list[Reason]) -> None:
        for column, why in reasons:
            if len(self.result.problems) >= self.max_problems:
                return
            letter = self.letters.get(column) if column else None
            self.result.problems.append(Problem(number, column, letter, why))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # The hot loop of an import: locals instead of attributes, one tuple per row.
        result, check, sink, progress = self.result, self.validator.check, self.sink, self.progress
        phone_column = result.mapping.phone_column
        allow_dupes = result.mapping.allow_duplicates
        first_seen: dict[int | str, int] = {}
        created = float(self.now)
        pending, invalid, duplicate = RowState.PENDING.value, RowState.INVALID.value, RowState.DUPLICATE.value
        tokens, used = "", 0
        n_rows = n_valid = n_invalid = n_dup = 0
        try:
            for number, cells, overflow in self.table.rows():
                n_rows += 1
                if progress and not n_rows % _PROGRESS_EVERY:
                    progress(*self.table.progress())
                request, reasons = check(cells, overflow)
                # Row tuples follow IMPORT_COLUMNS: the cells and request fields, then state,
                # reasons, duplicate_of, token and created_at.
                if request is None:
                    n_invalid += 1
                    self._problem(number, reasons)
                    if sink:
                        sink.write(number, cells, reasons)
                    yield (number, _json(cells), *_NO_REQUEST, invalid, _json(reasons), None, None, created)
                    continue
                first = number if allow_dupes else first_seen.setdefault(request.dedupe_key, number)
                fields = (number, _json(cells), *request.ledger_fields())
                if first != number:
                    n_dup += 1
                    why = _json([[phone_column, f"same number as row {first}"]])
                    yield (*fields, duplicate, why, first, None, created)
                    continue
                n_valid += 1
                if used == len(tokens):  # 128-bit callback tokens, drawn from the OS in bulk
                    tokens, used = os.urandom(16 * 1024).hex(), 0
                yield (*fields, pending, None, None, tokens[used : used + 32], created)
                used += 32
        finally:
            result.rows, result.valid, result.invalid, result.duplicate = n_rows, n_valid, n_invalid, n_dup
        result.blank = self.table.blank_rows
        result.warnings.extend(self.table.warnings)
        result.warnings.extend(f"{n} row(s): {w}" for w, n in self.validator.warnings.items())
        if progress:
            progress(*self.table.progress())


def _prepare(path: Path, spec: MappingSpec, now: int) -> tuple[Table, LoadResult]:
    table = open_table(path, sheet=spec.sheet, delimiter=spec.delimiter)
    try:
        return _fit(table, spec, now)
    except BaseException:
        table.close()
        raise


def _fit(table: Table, spec: MappingSpec, now: int) -> tuple[Table, LoadResult]:
    resolved = resolve(spec, table.headers, now=now)
    resolved = replace(resolved, sheet=table.info.sheet, delimiter=table.info.delimiter)
    result = LoadResult(source=table.info, mapping=resolved, warnings=list(resolved.warnings))
    if table.info.encoding_note:
        result.warnings.append(f"encoding: {table.info.encoding_note}")
    return table, result


def check_file(
    path: Path,
    spec: MappingSpec,
    *,
    max_problems: int = 20,
    errors_out: Path | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Validate every row of ``path``; nothing is written except the optional ``errors_out`` CSV."""
    started = time.perf_counter()
    now = int(time.time())
    table, result = _prepare(path, spec, now)
    try:
        if errors_out is not None:
            with InvalidRowsWriter(errors_out, table.headers) as sink:
                for _ in _Rows(table, result, now, max_problems, sink, progress):
                    pass
        else:
            for _ in _Rows(table, result, now, max_problems, None, progress):
                pass
    finally:
        table.close()
    result.seconds = time.perf_counter() - started
    return result


def import_file(
    ledger: Ledger,
    path: Path,
    spec: MappingSpec,
    *,
    survey_id: str,
    instance_id: str,
    new_job: bool = False,
    max_problems: int = 20,
    progress: Progress | None = None,
    parallel: bool | None = None,
) -> LoadResult:
    """Import ``path`` as a job; the same file, survey, instance and mapping again finds that job.

    ``parallel`` validates in a helper process while this one writes (None: for large files on
    machines with more than one core).
    """
    for name, value in (("--survey", survey_id), ("--instance", instance_id)):
        if not _ID.fullmatch(value or ""):
            raise UsageError(f"{name} {value!r}: expected the id shown in Insight (letters, digits, - _ .)")
    started = time.perf_counter()
    now = int(time.time())
    table, result = _prepare(path, spec, now)
    try:
        fingerprint = result.mapping.fingerprint()
        if not new_job:
            found = ledger.find_job(
                sha256=table.info.sha256, survey_id=survey_id, instance_id=instance_id, fingerprint=fingerprint
            )
            if found is not None:
                counts = ledger.counts(found.id)
                result.job_id, result.created = found.id, False
                result.rows = sum(counts.values())
                result.invalid, result.duplicate = counts["invalid"], counts["duplicate"]
                result.valid = result.rows - result.invalid - result.duplicate
                result.blank = found.blank_rows
                result.seconds = time.perf_counter() - started
                return result
        if parallel is None:
            parallel = table.info.size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1
        source_rows: Iterable[tuple[Any, ...]]
        if parallel:
            source_rows = validated_elsewhere(
                path,
                spec,
                now=now,
                max_problems=max_problems,
                sha256=table.info.sha256,
                result=result,
                progress=progress,
            )
        else:
            source_rows = _Rows(table, result, now, max_problems, None, progress)
        job_values: dict[str, Any] = {
            "survey_id": survey_id,
            "instance_id": instance_id,
            "source_name": os.path.basename(table.info.path),
            "source_sha256": table.info.sha256,
            "source_kind": table.info.kind,
            "sheet": table.info.sheet,
            "encoding": table.info.encoding,
            "delimiter": table.info.delimiter,
            "headers": _json(table.headers),
            "mapping": _json(result.mapping.as_dict()),
            "fingerprint": fingerprint,
            "options": "{}",
            "blank_rows": 0,
            "created_at": float(now),
        }
        result.job_id = ledger.create_job(job_values, source_rows, lambda: {"blank_rows": result.blank})
        result.created = True
        result.seconds = time.perf_counter() - started
        return result
    finally:
        table.close()
