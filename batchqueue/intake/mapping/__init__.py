"""Columns to request fields: phone, time and attempt normalization, per-row validation.

Usage::

    resolved = resolve(MappingSpec(region="US"), table.headers, now=int(time.time()))
    validator = RowValidator(resolved, table.headers, now)
    request, reasons = validator.check(cells, overflow)
"""

from batchqueue.intake.mapping.resolve import ResolvedMapping, resolve
from batchqueue.intake.mapping.spec import FIELDS, MappingSpec, load_mapping_file
from batchqueue.intake.mapping.validate import Reason, Request, RowValidator

__all__ = [
    "FIELDS",
    "MappingSpec",
    "Reason",
    "Request",
    "ResolvedMapping",
    "RowValidator",
    "load_mapping_file",
    "resolve",
]
