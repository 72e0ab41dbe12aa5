"""Spreadsheet → validated rows → ledger: the ``check`` and ``import`` work.

Usage::

    result = check_file(Path("contacts.csv"), MappingSpec())
    result = import_file(ledger, Path("contacts.csv"), MappingSpec(), survey_id="123", instance_id="1")
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchqueue.defaults import DEFAULTS
from batchqueue.errors import UsageError
from batchqueue.intake.loader import (
    LoadResult,
    Problem,
    Progress,
    RowLoader,
    encode_json,
    first_half,
    open_and_fit,
    second_half,
)
from batchqueue.intake.mapping.spec import MappingSpec
from batchqueue.intake.rules import RowRule
from batchqueue.intake.validator_process import Validation, worth_a_helper
from batchqueue.ledger.records import RowRun
from batchqueue.reports.fix_file import InvalidRowsWriter

if TYPE_CHECKING:
    from batchqueue.ledger import Ledger  # the ledger's SQLAlchemy is imported once a ledger is opened

__all__ = ["LoadResult", "Problem", "check_file", "import_file", "job_fingerprint"]

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def job_fingerprint(mapping: dict[str, Any], rules: dict[str, Any]) -> str:
    """The digest a re-import finds its job by: the effective mapping and the job's rules (a job
    imported without rules: the mapping's alone, as before rules were stored)."""
    canonical = mapping if not rules else {"mapping": mapping, "rules": rules}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_file(
    path: Path,
    spec: MappingSpec,
    *,
    max_problems: int = DEFAULTS.max_problems,
    errors_out: Path | None = None,
    progress: Progress | None = None,
    rules: Sequence[RowRule] = (),
    on_rows: Callable[[RowRun], None] | None = None,
) -> LoadResult:
    """Validate every row of ``path``; nothing is written except the optional ``errors_out`` CSV.
    ``on_rows`` sees the rows as they would be imported (the check's preview of where contacts are)."""
    started = time.perf_counter()
    now = int(time.time())
    table, result = open_and_fit(path, spec, now, progress=first_half(progress))
    if result.surveyed:
        progress = second_half(progress)
    with table:
        if errors_out is not None:
            with InvalidRowsWriter(errors_out, table.headers) as sink:
                for run in RowLoader(table, result, now, max_problems, sink.write, progress, rules):
                    if on_rows is not None:
                        on_rows(run)
        else:
            for run in RowLoader(table, result, now, max_problems, None, progress, rules):
                if on_rows is not None:
                    on_rows(run)
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
    max_problems: int = DEFAULTS.max_problems,
    progress: Progress | None = None,
    parallel: bool | None = None,
    rules: Sequence[RowRule] = (),
    validation: Validation | None = None,
    options: dict[str, Any] | None = None,
) -> LoadResult:
    """Import ``path`` as a job; the same file, survey, instance and mapping again finds that job.

    ``parallel`` validates in a helper process while this one writes (None: for large files on
    machines with more than one core). ``validation``: such a helper, already started (by the
    service, before it opened the ledger) with the same file, spec and rules; its ``now`` is used.
    ``options``: job options stored with it: its rules (``recontact_after``: seconds…), which are
    part of its fingerprint with the mapping, so the same file with other rules is another job.
    ``overlaps`` of the result names the other jobs made from the same file (a re-import under
    another mapping, or other rules).
    """
    for name, value in (("--survey", survey_id), ("--instance", instance_id)):
        if not _ID.fullmatch(value or ""):
            raise UsageError(f"{name} {value!r}: expected the id shown in Insight (letters, digits, - _ .)")
    started = time.perf_counter()
    now = validation.now if validation is not None else int(time.time())
    helped = validation is not None or bool(parallel) or (parallel is None and worth_a_helper(path))
    try:
        table, result = open_and_fit(path, spec, now, header_only=helped, progress=first_half(progress))
        if result.surveyed:
            progress = second_half(progress)
    except BaseException:
        if validation is not None:
            validation.cancel()
        raise
    with table:
        fingerprint = job_fingerprint(result.mapping.as_dict(), options or {})
        if not new_job:
            found = ledger.find_job(
                sha256=table.info.sha256, survey_id=survey_id, instance_id=instance_id, fingerprint=fingerprint
            )
            if found is not None:
                if validation is not None:
                    validation.cancel()
                counts = ledger.counts(found.id)
                result.job_id, result.created = found.id, False
                result.rows = sum(counts.values())
                result.invalid, result.duplicate = counts["invalid"], counts["duplicate"]
                result.filtered, result.suppressed = counts["filtered"], counts["suppressed"]
                result.valid = result.rows - result.invalid - result.duplicate - result.filtered - result.suppressed
                result.blank = found.blank_rows
                result.overlaps = ledger.overlaps(found.id)
                result.seconds = time.perf_counter() - started
                return result
        if validation is None and helped:
            validation = Validation.start(path, spec, now=now, max_problems=max_problems, rules=rules)
        new_rows: Iterable[RowRun]
        if validation is not None:
            table.close()  # the helper reads the file itself
            new_rows = validation.runs(sha256=table.info.sha256, result=result, progress=progress)
        else:
            new_rows = RowLoader(table, result, now, max_problems, None, progress, rules)
        job_values: dict[str, Any] = {
            "survey_id": survey_id,
            "instance_id": instance_id,
            "source_name": os.path.basename(table.info.path),
            "source_sha256": table.info.sha256,
            "source_kind": table.info.kind,
            "sheet": table.info.sheet,
            "encoding": table.info.encoding,
            "delimiter": table.info.delimiter,
            "headers": encode_json(table.headers),
            "mapping": encode_json(result.mapping.as_dict()),
            "fingerprint": fingerprint,
            "options": encode_json(options or {}),
            "blank_rows": 0,
            "created_at": float(now),
        }
        result.job_id = ledger.create_job(
            job_values, new_rows, lambda: {"blank_rows": result.blank}, phone_column=result.mapping.phone_column
        )
        result.suppressed = ledger.counts(result.job_id)["suppressed"]
        result.valid -= result.suppressed
        result.overlaps = ledger.overlaps(result.job_id)
    result.created = True
    result.seconds = time.perf_counter() - started
    return result
