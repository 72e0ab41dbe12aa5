"""``status``: counts by state, outcomes and workers, for one job or every job."""

from __future__ import annotations

from dataclasses import dataclass, field

from batchqueue.ledger import Job, WorkerInfo
from batchqueue.service.context import ledger_for
from batchqueue.settings import Settings


@dataclass(frozen=True)
class JobStatus:
    """One job as ``status`` shows it."""

    job: Job
    counts: dict[str, int]
    outcomes: dict[str, int]
    workers: list[WorkerInfo] = field(default_factory=list)
    suppressed_by: dict[str, int] = field(default_factory=dict)  # reason (dnc:<list>) -> rows

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def status(settings: Settings, job_id: int | None = None) -> list[JobStatus]:
    """The job asked for (with its live workers), or every job, oldest first."""
    with ledger_for(settings) as ledger:
        if job_id is not None:
            job = ledger.job(job_id)
            return [
                JobStatus(
                    job,
                    ledger.counts(job_id),
                    ledger.outcome_counts(job_id),
                    ledger.live_workers(job_id),
                    ledger.suppressed_by(job_id),
                )
            ]
        jobs = ledger.jobs()
        counts = ledger.all_counts([j.id for j in jobs])
        return [
            JobStatus(j, counts[j.id], ledger.outcome_counts(j.id), suppressed_by=ledger.suppressed_by(j.id))
            for j in jobs
        ]
