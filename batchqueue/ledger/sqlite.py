"""The SQLite ledger: one file, writes serialised by SQLite's own lock (BEGIN IMMEDIATE)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat
from typing import Any

from sqlalchemy import ColumnElement, Connection, func

from batchqueue.ledger.records import BARE, IMPORT_COLUMNS, PLAIN, PLAIN_COLUMNS, SHARED_COLUMNS, RowRun, mint_tokens
from batchqueue.ledger.store import Ledger
from batchqueue.lifecycle import IMPORTED

# Only constants, numbers batchqueue made and the integer job id are formatted in; text is bound.
_INSERT = (
    f"INSERT INTO rows (job_id, {', '.join(IMPORT_COLUMNS)}) "
    f"VALUES ({{job_id}}, {', '.join('?' * len(IMPORT_COLUMNS))})"
)
_INSERT_PLAIN = (
    f"INSERT INTO rows (job_id, state, {', '.join(PLAIN_COLUMNS)}) "
    f"VALUES ({{job_id}}, '{IMPORTED.value}', {', '.join('?' * len(PLAIN_COLUMNS))})"
)
_INSERT_BARE = (
    f"INSERT INTO rows (job_id, state, row_number, cells, e164, phone_number, token, created_at, "
    f"{', '.join(SHARED_COLUMNS)}) "
    f"VALUES ({{job_id}}, '{IMPORTED.value}', ?1, ?2, ?3, 'tel:' || ?3, ?4, {{shared}})"
)


def _literal(value: Any) -> str:
    """A number batchqueue itself made, as SQL (text is never formatted in, always bound)."""
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    raise TypeError(f"not a number: {value!r}")


def _bare_insert(job_id: int, shared: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """The INSERT of a bare run, and the text values (the result URL) its rows all bind after theirs."""
    created, *fields = shared
    parts, texts = [_literal(created)], []
    for value in fields:
        if isinstance(value, str):
            texts.append(value)
            parts.append(f"?{4 + len(texts)}")
        else:
            parts.append(_literal(value))
    return _INSERT_BARE.format(job_id=int(job_id), shared=", ".join(parts)), texts


class SQLiteLedger(Ledger):
    """A ledger in an SQLite file."""

    backend = "sqlite"

    def _insert_rows(self, conn: Connection, job_id: int, runs: Iterable[RowRun]) -> None:
        # Raw executemany inside SQLAlchemy's transaction: ~3x SQLAlchemy Core's insert rate.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        full, plain = _INSERT.format(job_id=int(job_id)), _INSERT_PLAIN.format(job_id=int(job_id))
        bare: dict[tuple[Any, ...], tuple[str, list[Any]]] = {}
        try:
            for run in runs:
                if run.shape == BARE:
                    if run.shared not in bare:
                        bare[run.shared] = _bare_insert(job_id, run.shared)
                    sql, texts = bare[run.shared]
                    numbers, cells, e164s = run.rows
                    tokens = mint_tokens(len(numbers))
                    if texts:
                        cursor.executemany(sql, zip(numbers, cells, e164s, tokens, *map(repeat, texts), strict=False))
                    else:
                        cursor.executemany(sql, zip(numbers, cells, e164s, tokens, strict=True))
                else:
                    cursor.executemany(plain if run.shape == PLAIN else full, run.rows)
        finally:
            cursor.close()

    def _greatest(self, column: ColumnElement[float], value: float) -> ColumnElement[float]:
        return func.max(column, value)  # SQLite's two-argument max() is its GREATEST

    def _cursor(self, conn: Connection, name: str) -> Any:
        return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
