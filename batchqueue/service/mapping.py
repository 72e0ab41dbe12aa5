"""How a file's columns become requests, as the front ends describe it: the mapping's fields and
options.

Re-exported here so that the command line (its mapping options) and the console (its import form)
reach them through the service layer. Light (the command line imports it at start-up): nothing here
loads a spreadsheet reader.
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

__all__ = ["FIELDS", "FIELD_WORDS", "NO_COLUMN", "MappingSpec", "load_mapping_file", "parse_delimiter"]
