"""The ledger: the durable record of every job and row; the only writer of row state.

Usage::

    ledger = open_ledger("sqlite:///batchqueue.db")      # or postgresql+psycopg://…
    ledger.counts(1)                                      # {"pending": 10, "invalid": 1, ...}
    ledger.close()

Importing this package is cheap (the record types only): SQLAlchemy is loaded when a ledger is
opened or :class:`Ledger` and the claim types are first used, so the import's validating helper
process, which never touches the database, starts without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchqueue.ledger.records import (
    IMPORT_COLUMNS,
    Attempt,
    Claimed,
    Job,
    NewRow,
    Overlap,
    ReportRow,
    RowRun,
    Settled,
    Settlement,
    Unproven,
    WorkerInfo,
)

if TYPE_CHECKING:
    from batchqueue.ledger.sending import ClaimContext, ClaimReview, Verdict
    from batchqueue.ledger.store import Ledger

_LAZY = {
    "ClaimContext": "batchqueue.ledger.sending",
    "ClaimReview": "batchqueue.ledger.sending",
    "Verdict": "batchqueue.ledger.sending",
    "Ledger": "batchqueue.ledger.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def open_ledger(url: str, *, create: bool = True, check: bool = False) -> Ledger:
    """The ledger at ``url`` (at the current schema; a new SQLite file or empty database is created
    at head when ``create``), on the backend the URL names. ``check``: for a command that writes,
    an existing SQLite file is checked for damage first (``LedgerDamagedError``)."""
    from batchqueue.ledger.database import open_engine

    engine = open_engine(url, create=create, check=check)
    if engine.dialect.name == "postgresql":
        from batchqueue.ledger.postgresql import PostgresLedger

        return PostgresLedger(engine)
    from batchqueue.ledger.sqlite import SQLiteLedger

    return SQLiteLedger(engine)


__all__ = [
    "IMPORT_COLUMNS",
    "Attempt",
    "ClaimContext",
    "ClaimReview",
    "Claimed",
    "Job",
    "Ledger",
    "NewRow",
    "Overlap",
    "ReportRow",
    "RowRun",
    "Settled",
    "Settlement",
    "Unproven",
    "Verdict",
    "WorkerInfo",
    "open_ledger",
]
