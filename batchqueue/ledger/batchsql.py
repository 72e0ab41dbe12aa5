"""Whole-batch SQL for the send path: one statement per batch, in the driver's own paramstyle.

The submitter's coordinator shares the GIL with many sender threads. Every SQLAlchemy statement
costs compile and cache-key work, and every SQLite step releases the GIL (and may wait a switch
interval to get it back), so the hot path sends one plain statement per batch, not one per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from batchqueue.lifecycle import Event, allowed_from


def placeholder(conn: Connection) -> str:
    """``?`` for sqlite3, ``%s`` for psycopg and other format-style drivers."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def values_cte(
    conn: Connection, name: str, columns: Sequence[tuple[str, str]], data: Sequence[Sequence[Any]]
) -> tuple[str, list[Any]]:
    """``WITH name(col, …) AS (VALUES (…), (…))`` with typed, bound parameters."""
    mark = placeholder(conn)
    row_sql = "(" + ", ".join(f"CAST({mark} AS {sqltype})" for _, sqltype in columns) + ")"
    params: list[Any] = []
    for record in data:
        params.extend(record)
    head = f"{name}({', '.join(col for col, _ in columns)})"
    return f"WITH {head} AS (VALUES {', '.join([row_sql] * len(data))})", params


def in_list(conn: Connection, count: int) -> str:
    """``(?, ?, ?)`` for an IN clause of ``count`` values."""
    return "(" + ", ".join([placeholder(conn)] * count) + ")"


def multi_values(conn: Connection, width: int, count: int) -> str:
    """``(?, ?), (?, ?)`` for a multi-row INSERT."""
    row_sql = "(" + ", ".join([placeholder(conn)] * width) + ")"
    return ", ".join([row_sql] * count)


def event_guard(events: Sequence[Event], event_column: str = "v.event", state_column: str = "rows.state") -> str:
    """SQL that is true when the row's state allows the batch item's event (the lifecycle table, as SQL).

    Only the enum's own constant values are formatted in.
    """
    cases = []
    for event in events:
        froms = ", ".join(f"'{state.value}'" for state in sorted(allowed_from(event)))
        cases.append(f"({event_column} = '{event.value}' AND {state_column} IN ({froms}))")
    return "(" + " OR ".join(cases) + ")"


def states_sql(states: Sequence[str] | frozenset[Any]) -> str:
    """``('a', 'b')`` for a fixed set of state names (enum values only)."""
    return "(" + ", ".join(f"'{s}'" for s in sorted(str(s) for s in states)) + ")"
