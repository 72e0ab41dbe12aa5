"""Exports: the job report (CSV, xlsx, JSON) and the invalid-rows CSV; every cell formula-safe.

Usage::

    result = export_job(ledger, job_id, Path("report.xlsx"), states={"failed"})
"""

from batchqueue.cell_safety import safe_cell
from batchqueue.reports.export import ExportResult, export_job
from batchqueue.reports.fix_file import InvalidRowsWriter, format_reasons

__all__ = ["ExportResult", "InvalidRowsWriter", "export_job", "format_reasons", "safe_cell"]
