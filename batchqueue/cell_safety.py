"""Cells that leave batchqueue for a spreadsheet are never run as formulas (OWASP CSV injection).

A CSV cell that starts with ``= + - @``, a tab or a carriage return gets a ``'`` in front, which a
spreadsheet shows as text. So that ``import`` can undo exactly this and nothing else, a cell that
already starts with ``'`` followed by one of those (or by another ``'``) gets one too: reading back
strips one leading ``'`` from exactly those cells (see :data:`NEUTRALISED`), and export → import
is the identity on every value.
"""

from __future__ import annotations

DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
#: What an exported cell that was neutralised starts with; import strips the first character.
NEUTRALISED = ("'=", "'+", "'-", "'@", "'\t", "'\r", "''")
_TRIGGERS = "=+-@\t\r"
_AFTER_QUOTE = "=+-@\t\r'"


def safe_cell(value: str) -> str:
    """For CSV: prefix a quote to a cell a spreadsheet would run as a formula (or that import would
    otherwise mistake for one already neutralised)."""
    if value and (value[0] in _TRIGGERS or (value[0] == "'" and value[1:2] != "" and value[1] in _AFTER_QUOTE)):
        return "'" + value
    return value


def safe_row(cells: list[str]) -> list[str]:
    """:func:`safe_cell` over a row, inlined for speed (exports write millions of cells)."""
    return [
        "'" + c if c and (c[0] in _TRIGGERS or (c[0] == "'" and c[1:2] != "" and c[1] in _AFTER_QUOTE)) else c
        for c in cells
    ]


def restored(value: str) -> str:
    """The value a neutralised cell stood for (:func:`safe_cell` undone); other cells unchanged."""
    return value[1:] if value[:2] in NEUTRALISED else value
