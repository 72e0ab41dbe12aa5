"""The ledger: the durable record of every job and row; the only writer of row state.

Usage::

    ledger = open_ledger("sqlite:///batchqueue.db")      # or postgresql+psycopg://…
    ledger.counts(1)                                      # {"pending": 10, "invalid": 1, ...}
    ledger.close()
"""

from __future__ import annotations

from batchqueue.ledger.database import open_engine
from batchqueue.ledger.records import (
    IMPORT_COLUMNS,
    Attempt,
    Claimed,
    Job,
    NewRow,
    ReportRow,
    Settled,
    Settlement,
    Unproven,
    WorkerInfo,
)
from batchqueue.ledger.sending import ClaimContext, ClaimReview, Verdict
from batchqueue.ledger.store import Ledger


def open_ledger(url: str, *, create: bool = True) -> Ledger:
    """The ledger at ``url`` (at the current schema; a new SQLite file or empty database is created
    at head when ``create``), on the backend the URL names."""
    engine = open_engine(url, create=create)
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
    "ReportRow",
    "Settled",
    "Settlement",
    "Unproven",
    "Verdict",
    "WorkerInfo",
    "open_ledger",
]
