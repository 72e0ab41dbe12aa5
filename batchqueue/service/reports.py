"""``export``: a job's report as CSV, xlsx or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from batchqueue.lifecycle import PROBLEM_STATES
from batchqueue.reports.export import STDOUT as STDOUT
from batchqueue.reports.export import ExportResult, export_job
from batchqueue.reports.export import ExportShape as ExportShape
from batchqueue.service.app import Face
from batchqueue.service.context import ledger_for

#: What ``--errors-only`` selects.
ERROR_STATES = frozenset(s.value for s in PROBLEM_STATES)


@dataclass(frozen=True)
class ExportRequest:
    """Which rows of which job go where, in which format."""

    job_id: int
    output: Path
    fmt: str | None = None
    states: frozenset[str] | None = None
    outcomes: frozenset[str] | None = None
    errors_only: bool = False
    as_input: bool = False
    shape: ExportShape = field(default_factory=ExportShape)


def export(app: Face, request: ExportRequest) -> ExportResult:
    """Write the report; the file appears whole or not at all (``-o -``: on standard output)."""
    states = set(request.states) if request.states else None
    if request.errors_only:
        states = (states or set()) | ERROR_STATES
    with ledger_for(app) as ledger:
        return export_job(
            ledger,
            request.job_id,
            request.output,
            fmt=request.fmt,
            states=states,
            outcomes=set(request.outcomes) if request.outcomes else None,
            as_input=request.as_input,
            shape=request.shape,
        )
