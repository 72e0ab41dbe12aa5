"""Cells that leave batchqueue for a spreadsheet are never run as formulas (OWASP CSV injection).

A CSV cell that starts with ``= + - @`` (or their full-width forms ``＝ ＋ － ＠``), a tab or a
carriage return gets a ``'`` in front, which a spreadsheet shows as text. So that ``import`` can
undo exactly this, a cell that already starts with ``'`` gets one too: in a CSV file batchqueue
wrote, every cell that starts with ``'`` had one added, and :func:`restored` takes exactly that one
away (export → import is the identity on every value). ``import`` applies it to the CSV files that
carry batchqueue's own ``bq_`` columns (a report, a fix file; see ``intake/sheets/own_columns``): a
``'`` in a file of the user's own is the user's.
"""

from __future__ import annotations

#: The characters a spreadsheet may take as the start of a formula: ``= + - @`` and their full-width
#: forms (U+FF1D, U+FF0B, U+FF0D, U+FF20), which Excel with an East Asian input method reads as them.
FORMULA_STARTS = "=+-@\uff1d\uff0b\uff0d\uff20"
#: A cell that starts with one of these gets a ``'`` in front: a formula's starts, tab, CR, and the quote itself.
_QUOTED = FORMULA_STARTS + "\t\r'"


def safe_cell(value: str) -> str:
    """For CSV: a quote in front of a cell a spreadsheet would run as a formula, or that starts with one."""
    return "'" + value if value and value[0] in _QUOTED else value


def safe_row(cells: list[str]) -> list[str]:
    """:func:`safe_cell` over a row, inlined for speed (exports write millions of cells)."""
    return ["'" + c if c and c[0] in _QUOTED else c for c in cells]


def restored(value: str) -> str:
    """The value a cell of a CSV file batchqueue wrote stands for (:func:`safe_cell` undone)."""
    return value[1:] if value[:1] == "'" else value
