"""How a file's columns become requests, as the front ends describe it: the mapping's fields and
options, and the kinds of file an upload may be.

Re-exported here so that the command line (its mapping options) and the console (its import form)
reach them through the service layer. Light: nothing here reads a spreadsheet.
"""

from __future__ import annotations

from batchqueue.intake.mapping.spec import (
    FIELD_WORDS,
    FIELDS,
    NO_COLUMN,
    MappingSpec,
    load_mapping_file,
    parse_delimiter,
)
from batchqueue.intake.sheets.detect import EXCEL_SUFFIXES, TEXT_SUFFIXES

__all__ = [
    "EXCEL_SUFFIXES",
    "FIELDS",
    "FIELD_WORDS",
    "NO_COLUMN",
    "TEXT_SUFFIXES",
    "MappingSpec",
    "load_mapping_file",
    "parse_delimiter",
]
