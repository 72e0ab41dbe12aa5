"""The only writer of jobs and row state. Each transition is one method and one transaction.

Usage::

    ledger = Ledger(open_ledger(url))
    job_id = ledger.create_job(job_values, row_tuples)     # the import: one atomic transaction
    ledger.counts(job_id)                                  # {"pending": 10, "invalid": 1, ...}
    claimed = ledger.claim(job_id, 16)                     # pending → sending, committed
    ledger.record([...])                                   # sending → queued / failed / uncertain / pending
"""

from batchqueue.ledger.jobs import IMPORT_COLUMNS, Job, JobsLedger
from batchqueue.ledger.outcomes import OutcomesLedger, Unproven
from batchqueue.ledger.sending import Claimed, Outcome, SendingLedger
from batchqueue.ledger.workers import WorkerInfo, WorkersLedger


class Ledger(JobsLedger, SendingLedger, OutcomesLedger, WorkersLedger):
    """Jobs and rows in one database (SQLite or PostgreSQL)."""


__all__ = ["IMPORT_COLUMNS", "Claimed", "Job", "Ledger", "Outcome", "Unproven", "WorkerInfo"]
