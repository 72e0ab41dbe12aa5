"""The ledger: jobs and rows in one database, the only writer of row state.

:class:`Ledger` holds the SQL every backend shares (from its parts: jobs, sending, outcomes,
workers, reports, dnc); :mod:`batchqueue.ledger.sqlite` and :mod:`batchqueue.ledger.postgresql` hold
what differs. :func:`batchqueue.ledger.open_ledger` picks the backend from the URL.

Usage::

    ledger = open_ledger("sqlite:///batchqueue.db")
    job_id = ledger.create_job(job_values, new_rows)       # the import: one atomic transaction
    settled = ledger.settle(job_id, settlements, [], 16)   # record outcomes, claim the next rows
    ledger.close()
"""

from __future__ import annotations

from sqlalchemy import Engine

from batchqueue.ledger.answers import AnswersLedger
from batchqueue.ledger.console import ConsoleLedger
from batchqueue.ledger.dnc import DncLedger
from batchqueue.ledger.job_admin import JobAdminLedger
from batchqueue.ledger.jobs import JobsLedger
from batchqueue.ledger.outcomes import OutcomesLedger
from batchqueue.ledger.reports import ReportsLedger
from batchqueue.ledger.sending import SendingLedger
from batchqueue.ledger.tallies import TalliesLedger
from batchqueue.ledger.waves import WavesLedger
from batchqueue.ledger.workers import WorkersLedger


class Ledger(
    TalliesLedger,
    ConsoleLedger,
    JobsLedger,
    JobAdminLedger,
    SendingLedger,
    OutcomesLedger,
    WorkersLedger,
    ReportsLedger,
    DncLedger,
    WavesLedger,
    AnswersLedger,
):
    """A ledger on one database. Build it with :func:`batchqueue.ledger.open_ledger`."""

    backend = "?"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._job_rules = {}

    @property
    def path(self) -> str | None:
        """The database file of an SQLite ledger; None for a server database."""
        return self.engine.url.database if self.engine.url.get_backend_name() == "sqlite" else None

    def close(self) -> None:
        """Close every connection (the ledger can be opened again)."""
        self.engine.dispose()
