"""Cells that leave batchqueue for a spreadsheet are never run as formulas (OWASP CSV injection)."""

from __future__ import annotations

DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """For CSV: prefix a quote to a cell a spreadsheet would run as a formula."""
    if value and value.startswith(DANGEROUS_START):
        return "'" + value
    return value


def safe_row(cells: list[str]) -> list[str]:
    """:func:`safe_cell` over a row, inlined for speed (exports write millions of cells)."""
    return ["'" + c if c and c[0] in "=+-@\t\r" else c for c in cells]
