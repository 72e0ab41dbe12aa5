"""Header-row rules shared by every reader."""

from __future__ import annotations

from collections import Counter

from batchqueue.column_letters import column_letter
from batchqueue.errors import HeaderError

__all__ = ["clean_headers", "column_letter"]


def clean_headers(raw: list[str], path: str) -> list[str]:
    """Trim names; drop empty trailing columns (an Excel export habit); refuse empty or repeated names."""
    names = [name.strip() for name in raw]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise HeaderError(path, "the header row is empty (the first row must name the columns)")
    empty = [column_letter(i) for i, name in enumerate(names) if not name]
    if empty:
        raise HeaderError(path, f"column(s) {', '.join(empty)} of the header row have no name")
    repeated = [name for name, n in Counter(names).items() if n > 1]
    if repeated:
        listed = ", ".join(repr(name) for name in repeated)
        raise HeaderError(path, f"the header row repeats the column name(s) {listed}")
    return names
