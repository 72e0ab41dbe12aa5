"""The import-time row rules every ``check`` and ``import`` applies (see :mod:`batchqueue.intake.rules`).

A new rule: a module in this package holding its class (a frozen dataclass with ``name``,
``per_row`` and ``bind``), listed here, and its test. A rule runs on every file, so its ``bind``
returns None when the file lacks what it looks at. Reasons of earlier rules come first.
"""

from __future__ import annotations

from batchqueue.intake.rules import RowRule

#: Applied, in this order, before a request's own ``rules``.
IMPORT_RULES: tuple[RowRule, ...] = ()
