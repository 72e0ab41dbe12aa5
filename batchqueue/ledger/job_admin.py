"""Looking after jobs: correcting a job's survey/instance, archiving it, deleting it (with what the law
and the user need kept), and what was sent lately.

Deleting a job removes its rows, their requests and outcome history, its workers, pace and tallies.
It keeps what outlives a job: the numbers' contact history (``contact_marks``, ``contact_log``: the
re-contact limits of every other job count those calls), the do-not-call lists, and the audit trail
(which records the deletion).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Engine, delete, exists, func, select, update

from batchqueue.ledger.database import write
from batchqueue.ledger.schema import attempts, jobs, outcome_events, pacing, row_tallies, rows, workers


class JobAdminLedger:
    """The administration side of the ledger (see :class:`batchqueue.ledger.Ledger`)."""

    engine: Engine

    def anything_sent(self, job_id: int) -> bool:
        """Whether any request of the job ever left (or may have: every claim is an attempt)."""
        with self.engine.connect() as conn:
            return bool(conn.execute(select(exists().where(attempts.c.job_id == job_id))).scalar())

    def requests_since(self, job_id: int, since: float) -> int:
        """Requests of the job sent at ``since`` or later (counted exactly, through their index)."""
        query = select(func.count()).where(attempts.c.job_id == job_id, attempts.c.started_at >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def last_request_at(self, job_ids: Sequence[int]) -> dict[int, float]:
        """When each job (of those that sent any) last sent a request."""
        query = (
            select(attempts.c.job_id, func.max(attempts.c.started_at))
            .where(attempts.c.job_id.in_(job_ids))
            .group_by(attempts.c.job_id)
        )
        with self.engine.connect() as conn:
            return {int(job_id): float(at) for job_id, at in conn.execute(query)}

    def job_list(self) -> list[tuple[int, float | None]]:
        """Every job's id and when it was archived (None: not archived), newest first."""
        with self.engine.connect() as conn:
            return [
                (int(i), a)
                for i, a in conn.execute(
                    select(jobs.c.id, jobs.c.archived_at).where(jobs.c.deleted_at.is_(None)).order_by(jobs.c.id.desc())
                )
            ]

    def set_target(self, job_id: int, survey_id: str, instance_id: str) -> None:
        """The survey and instance the job's rows are sent to from now on."""
        with write(self.engine) as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(survey_id=survey_id, instance_id=instance_id))

    def set_archived(self, job_id: int, at: float | None) -> None:
        """Archive the job (``at``: when), or bring it back (None)."""
        with write(self.engine) as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(archived_at=at))

    def delete_job(self, job_id: int) -> int:
        """Delete everything that is only the job's own, in one transaction; its rows' count. The job's
        own line stays, marked deleted: its id is never given to another job (the contact history and
        the audit trail name it)."""
        with write(self.engine) as conn:
            count = int(conn.execute(select(func.count()).where(rows.c.job_id == job_id)).scalar_one())
            for table in (outcome_events, attempts, rows, workers, pacing, row_tallies):
                conn.execute(delete(table).where(table.c.job_id == job_id))
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(deleted_at=time.time()))
        return count
