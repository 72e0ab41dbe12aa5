"""The kinds of file an upload may be, by name (the console's upload form says and checks them).

Apart from :mod:`batchqueue.service.mapping` because it loads the spreadsheet readers, which the
command line must not load at start-up.
"""

from __future__ import annotations

from batchqueue.intake.sheets.detect import EXCEL_SUFFIXES, TEXT_SUFFIXES

__all__ = ["EXCEL_SUFFIXES", "TEXT_SUFFIXES"]
