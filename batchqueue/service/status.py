"""``status``: counts by state, outcomes and workers, for one job or every job."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from batchqueue.calling.registry import job_calling_rules, rules_json
from batchqueue.holds import Holds
from batchqueue.ledger import Job, Ledger
from batchqueue.ledger import WorkerInfo as WorkerInfo
from batchqueue.service.app import Face
from batchqueue.service.context import ledger_for


@dataclass(frozen=True)
class JobStatus:
    """One job as ``status`` shows it."""

    job: Job
    counts: dict[str, int]
    outcomes: dict[str, int]
    workers: list[WorkerInfo] = field(default_factory=list)
    suppressed_by: dict[str, int] = field(default_factory=dict)  # reason (dnc:<list>) -> rows
    calling_rules: str = ""  # the job's calling rules, in words
    held: int = 0  # pending rows a claim held (``holds`` says why)
    next_window_at: float | None = None
    #: Its waves (``recycle``), first import first, when it has any: each job with its counts.
    waves: list[tuple[Job, dict[str, int]]] = field(default_factory=list)
    #: Its held rows by reason (only for one job asked for).
    holds: Holds = field(default_factory=Holds)

    @property
    def answers(self) -> dict[str, Any]:
        """What ``answers`` last found for the job (report, when, counts); empty when it never ran."""
        found = self.job.options.get("answers")
        if not isinstance(found, dict) or "counts" not in found:
            return {}
        return {
            "report_id": found.get("report_id"),
            "fetched_at": found.get("fetched_at"),
            **found["counts"],
            "opt_out_when": found.get("opt_out_when", []),
            "opt_out_list": found.get("opt_out_list"),
        }

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rules(self) -> dict[str, Any]:
        """The job's rules by name (:func:`batchqueue.calling.registry.rules_json`)."""
        return rules_json(self.job.options)


#: Workers not heard from for this long (and never signed off) are no longer listed at all.
FORGET_WORKERS_AFTER = 24 * 3600.0


def process_gone(worker: WorkerInfo) -> bool:
    """Whether ``worker`` is a process of this machine that no longer runs (killed with ``kill -9``,
    it never signed off): known at once, instead of after its lease. A worker of another machine,
    or one whose process this one may not see, is never called gone here."""
    if worker.host != socket.gethostname() or worker.pid <= 0:
        return False
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    try:  # a zombie (killed, not yet reaped by its parent: a console's own run) runs no more either
        with open(f"/proc/{worker.pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[-1].split()
        state, started = fields[0], int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return False
    if state in (b"Z", b"X"):
        return True
    # Another process given the dead worker's pid started after the worker did.
    return _boot_time() + started > worker.started_at + 5


def _boot_time() -> float:
    try:
        with open("/proc/stat", "rb") as stat:
            for line in stat:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def status(app: Face, job_id: int | None = None) -> list[JobStatus]:
    """The job asked for (with its workers that have not signed off: a front end marks those whose
    heartbeat is older than the lease as stale), or every job, oldest first."""
    with ledger_for(app) as ledger:
        if job_id is not None:
            job = ledger.job(job_id)
            holds = ledger.holds(job_id, time.time())
            return [
                JobStatus(
                    job,
                    ledger.counts(job_id),
                    ledger.outcome_counts(job_id),
                    ledger.live_workers(job_id, within=FORGET_WORKERS_AFTER),
                    ledger.suppressed_by(job_id),
                    job_calling_rules(job.options)[0].describe(),
                    holds.rows,
                    holds.next_at,
                    _waves(ledger, job),
                    holds,
                )
            ]
        jobs = [j for j in ledger.jobs() if j.archived_at is None]  # `status JOB` shows an archived one
        counts = ledger.all_counts([j.id for j in jobs])
        return [
            JobStatus(j, counts[j.id], ledger.outcome_counts(j.id), suppressed_by=ledger.suppressed_by(j.id))
            for j in jobs
        ]


def _waves(ledger: Ledger, job: Job) -> list[tuple[Job, dict[str, int]]]:
    waves = ledger.waves(job)
    return [(w, ledger.counts(w.id)) for w in waves] if len(waves) > 1 else []
