"""Exports: the job report (CSV, xlsx, JSON) and the invalid-rows CSV; every cell formula-safe.

Usage::

    result = export_job(ledger, job_id, Path("report.xlsx"), states={"failed"})

The export (and with it the ledger's SQLAlchemy) is imported when first used: an import's
validating helper is forked from a process that has loaded only the fix-file writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchqueue.cell_safety import safe_cell
from batchqueue.reports.fix_file import InvalidRowsWriter, format_reasons

if TYPE_CHECKING:
    from batchqueue.reports.export import ExportResult, export_job

__all__ = ["ExportResult", "InvalidRowsWriter", "export_job", "format_reasons", "safe_cell"]


def __getattr__(name: str) -> Any:
    if name not in ("ExportResult", "export_job"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from batchqueue.reports import export

    return getattr(export, name)
