"""``--where``: which rows of a file are imported. The others are kept in the ledger as ``filtered``.

A condition compares one column's cell with values, ignoring letter case and surrounding spaces::

    consent=Yes            Consent != no          status in (active, "new, unconfirmed")
    status not in (closed, lost)

Several ``--where`` must all hold. Column names are matched as ``--phone-column`` matches them.

Usage::

    condition = parse_condition("consent=Yes", headers, find_column)
    keep = RowFilter([condition], headers)
    keep(cells)          # None when the row passes, else the reason it was filtered out
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from batchqueue.errors import UsageError

_LIST = re.compile(r"(?P<column>.+?)\s+(?P<op>not\s+in|in)\s*\((?P<values>.*)\)\s*", re.IGNORECASE | re.DOTALL)
_COMPARE = re.compile(r"(?P<column>.+?)\s*(?P<op>!=|<>|==|=)\s*(?P<value>.*)", re.DOTALL)


@dataclass(frozen=True)
class Condition:
    """One ``--where``: the column, whether the cell must be among ``values`` or not, as written."""

    column: str
    among: bool
    values: frozenset[str]
    text: str


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _fold(value: str) -> str:
    return value.strip().casefold()


def parse_condition(text: str, headers: Sequence[str], find_column: Callable[[str, list[str], str], str]) -> Condition:
    """One condition over ``headers``; UsageError names what is wrong with it."""
    listed = _LIST.fullmatch(text.strip())
    if listed is not None:
        rows = list(csv.reader([listed.group("values")], skipinitialspace=True))
        values = [_unquote(v) for v in (rows[0] if rows else [])]
        if not values or not any(v for v in values):
            raise UsageError(f"--where {text!r}: the list in ( ) is empty")
        column, among = listed.group("column"), listed.group("op").lower() == "in"
    else:
        compared = _COMPARE.fullmatch(text.strip())
        if compared is None:
            raise UsageError(
                f"--where {text!r}: expected COLUMN=VALUE, COLUMN!=VALUE or COLUMN in (A,B); "
                "quote the whole condition in the shell"
            )
        column, among = compared.group("column"), compared.group("op") in ("=", "==")
        values = [_unquote(compared.group("value"))]
    name = find_column(_unquote(column), list(headers), f"--where {text!r}")
    return Condition(name, among, frozenset(_fold(v) for v in values), text.strip())


class RowFilter:
    """Every condition over one header's columns; called for each row."""

    def __init__(self, conditions: Sequence[Condition], headers: Sequence[str]) -> None:
        index = {name: i for i, name in enumerate(headers)}
        self._checks = [(index[c.column], c.among, c.values, c) for c in conditions]

    def __call__(self, cells: list[str]) -> Condition | None:
        """None when the row passes every condition, else the first it fails."""
        for at, among, values, condition in self._checks:
            if (_fold(cells[at]) in values) is not among:
                return condition
        return None
