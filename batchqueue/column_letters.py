"""How spreadsheet users name a column: 0 → A, 25 → Z, 26 → AA.

A base module: both the readers (intake) and the writers (reports) use it.

Usage::

    column_letter(27)    # "AB"
"""

from __future__ import annotations


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: how spreadsheet users name a column."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
