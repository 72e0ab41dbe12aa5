"""``check`` and ``import``: a spreadsheet validated, and loaded into the ledger as a job."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchqueue.calling.rules import CallingRules
from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.intake.importer import LoadResult, check_file
from batchqueue.intake.importer import import_file as _import_file
from batchqueue.intake.loader import Progress
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.rules import RowRule
from batchqueue.intake.validator_process import Validation, worth_a_helper
from batchqueue.service.context import ledger_for
from batchqueue.settings import Settings


@dataclass(frozen=True)
class CheckRequest:
    """Validate ``file`` with ``spec``; nothing is written but the optional errors file."""

    file: Path
    spec: MappingSpec
    max_problems: int = DEFAULTS.max_problems
    errors_out: Path | None = None
    rules: Sequence[RowRule] = ()


@dataclass(frozen=True)
class ImportRequest:
    """Import ``file`` as a job for ``survey_id``/``instance_id`` (or find the job it already is)."""

    file: Path
    spec: MappingSpec
    survey_id: str
    instance_id: str
    new_job: bool = False
    max_problems: int = DEFAULTS.max_problems
    rules: Sequence[RowRule] = ()
    #: Refuse (suppress) a number another job of the ledger claimed within this many seconds
    #: (0, ``off``: not even one a job of the same file claimed).
    recontact_after: int | None = DEFAULTS.recontact_after
    #: Suppress a number called this many times within this many seconds (by any job).
    max_contacts: tuple[int, int] | None = None
    #: When calls may be made (the defaults when None); stored on the job.
    calling: CallingRules | None = None
    #: A contact's zone when neither its row, ZIP nor number says.
    default_timezone: str | None = None

    def job_options(self) -> dict[str, Any]:
        """The options stored with the job."""
        options: dict[str, Any] = {"calling": (self.calling or CallingRules.parse()).as_json()}
        if self.recontact_after is not None:
            options["recontact_after"] = self.recontact_after
        if self.max_contacts:
            options["max_contacts"] = list(self.max_contacts)
        if self.default_timezone:
            from batchqueue.intake.mapping.times import canonical_zone

            try:
                options["default_timezone"] = canonical_zone(self.default_timezone)
            except ValueError as exc:
                raise UsageError(f"--default-timezone: {exc}") from None
        return options


def check(request: CheckRequest, *, progress: Progress | None = None) -> LoadResult:
    """Every row of the file validated; see :class:`LoadResult` for what was found."""
    return check_file(
        request.file,
        request.spec,
        max_problems=request.max_problems,
        errors_out=request.errors_out,
        progress=progress,
        rules=request.rules,
    )


def import_file(settings: Settings, request: ImportRequest, *, progress: Progress | None = None) -> LoadResult:
    """The file imported as a job in one transaction (``created`` False when it already was one).

    A large file's validating helper is started first, so that its start-up overlaps this
    process's opening (or creating) the ledger.
    """
    options = request.job_options()
    validation = None
    if worth_a_helper(request.file):
        validation = Validation.start(
            request.file, request.spec, now=int(time.time()), max_problems=request.max_problems, rules=request.rules
        )
    try:
        with ledger_for(settings, create=True) as ledger:
            return _import_file(
                ledger,
                request.file,
                request.spec,
                survey_id=request.survey_id,
                instance_id=request.instance_id,
                new_job=request.new_job,
                max_problems=request.max_problems,
                progress=progress,
                rules=request.rules,
                validation=validation,
                options=options,
            )
    finally:
        if validation is not None:
            validation.cancel()  # a no-op when the import used it up


@dataclass(frozen=True)
class FilePreview:
    """The first rows of a file as read with a mapping spec: what the console's check page shows."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (row number as the spreadsheet shows it, cells)
    sheets: list[str]


def preview(file: Path, spec: MappingSpec, count: int = 10) -> FilePreview:
    """The header and the first ``count`` data rows, as text (formulas are never evaluated)."""
    from batchqueue.intake.sheets import open_table

    with open_table(
        file, sheet=spec.sheet, delimiter=spec.delimiter, header_row=spec.header_row, nulls=spec.nulls
    ) as table:
        rows = []
        for number, cells, _overflow in table.rows():
            rows.append((number, cells))
            if len(rows) >= count:
                break
        return FilePreview(list(table.headers), rows, list(table.info.sheets))
