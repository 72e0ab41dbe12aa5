"""What the console shows of jobs: each job's counts and live activity, and one job in full.

Everything is read from the ledger, so a run started from the command line (or on another host of
a PostgreSQL ledger) shows up exactly like one started from the console. Counts come from the
ledger's tallies and every list is a bounded page, so a job of a million rows reads as fast as one
of ten. Held rows are counted at most once per :data:`HELD_TTL` seconds per job, however many
people are watching.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from batchqueue.call_outcome import FINAL as FINAL
from batchqueue.calling.registry import job_calling_rules, rules_json
from batchqueue.defaults import DEFAULTS
from batchqueue.holds import Holds
from batchqueue.ledger import Job, Ledger, WorkerInfo
from batchqueue.ledger.console import FAILURE_SAMPLE as FAILURE_SAMPLE
from batchqueue.ledger.console import PROBLEM_STATES as PROBLEM_STATES
from batchqueue.ledger.console import AuditEvent, ProblemRow
from batchqueue.lifecycle import FINAL_STATES, OPEN_STATES, SENT_STATES, SET_ASIDE, RowState
from batchqueue.service.status import FORGET_WORKERS_AFTER, process_gone

#: How long a job's count of held rows is reused (it is the one count that reads rows).
HELD_TTL = 10.0
#: The rate a page shows is the requests of the last this many seconds, counted in the ledger.
RATE_WINDOW = 15.0
#: Minutes the "requests per minute" chart covers.
CHART_MINUTES = 30
#: Problem rows on one page of the job page's table.
PROBLEMS_PAGE = 50

#: States whose rows are finished as far as sending goes (the progress bar's "done").
SETTLED = tuple(s.value for s in RowState if s in FINAL_STATES)


@dataclass(frozen=True)
class Activity:
    """Who is sending a job right now, how fast, and whether Insight is slowing them down.

    ``rate``: the job's requests over the last :data:`RATE_WINDOW` seconds, counted in the ledger
    (whoever sent them, whenever their workers last reported), per second."""

    workers: list[WorkerInfo]
    stale: list[WorkerInfo]
    rate: float
    slowed_by: str | None

    @property
    def running(self) -> bool:
        return bool(self.workers)


@dataclass(frozen=True)
class Segment:
    """One part of a job's progress: its label, and the rows in it."""

    label: str
    rows: int


def progress(counts: dict[str, int], held: int) -> list[Segment]:
    """A job's rows that are to be sent, in the parts a progress bar shows: ``sent`` (a request
    left: queued, failed or uncertain), ``sending`` (now), ``held`` (pending until their calling
    window), ``left`` (pending, to send), ``not sent`` (canceled or suppressed). Rows that were never
    to be sent (invalid, duplicate, filtered) are not part of it."""
    pending = counts.get("pending", 0)
    held = min(held, pending)
    return [
        Segment("sent", sum(counts.get(s, 0) for s in SENT_STATES)),
        Segment("sending", counts.get("sending", 0)),
        Segment("held", held),
        Segment("left", pending - held),
        Segment("not sent", counts.get("canceled", 0) + counts.get("suppressed", 0)),
    ]


#: The states that were never to be sent, said beside the progress bar.
NEVER_SENT = tuple(s.value for s in RowState if s in SET_ASIDE)


@dataclass(frozen=True)
class JobSummary:
    """One line of the jobs page."""

    job: Job
    counts: dict[str, int]
    outcomes: dict[str, int]
    activity: Activity
    held: int = 0

    @property
    def progress(self) -> list[Segment]:
        return progress(self.counts, self.held)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def settled(self) -> int:
        return sum(self.counts.get(state, 0) for state in SETTLED)


@dataclass(frozen=True)
class ProblemFilter:
    """Which problem rows the job page lists."""

    state: str | None = None
    contains: str | None = None
    page: int = 0


@dataclass(frozen=True)
class JobView(JobSummary):
    """Everything the job page shows."""

    next_window_at: float | None = None
    #: Why its held rows wait, by reason.
    holds: Holds = field(default_factory=Holds)
    calling_rules: str = ""
    #: The job's rules by name (:func:`batchqueue.calling.registry.rules_json`).
    rules: dict[str, Any] = field(default_factory=dict)
    per_minute: list[tuple[int, int]] = field(default_factory=list)
    failure_reasons: list[tuple[str, int]] = field(default_factory=list)
    failure_reasons_capped: bool = False
    problems: list[ProblemRow] = field(default_factory=list)
    problem_filter: ProblemFilter = field(default_factory=ProblemFilter)
    audit: list[AuditEvent] = field(default_factory=list)

    @property
    def answers(self) -> dict[str, Any]:
        """What ``answers`` last stored on the job: report id, counts, each question's answers
        counted (``tally``); empty when it never ran. Read from the job, never by counting rows."""
        found = self.job.options.get("answers")
        return found if isinstance(found, dict) else {}


class HeldCounts:
    """Each job's held rows, counted at most once per ``ttl`` seconds (shared by every viewer)."""

    def __init__(self, ttl: float = HELD_TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._found: dict[int, tuple[float, Holds]] = {}

    def get(self, ledger: Ledger, job_id: int) -> Holds:
        """The job's held rows by reason (``Ledger.holds``), as counted at most ``ttl`` seconds ago."""
        now = time.time()
        with self._lock:
            cached = self._found.get(job_id)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
            found = ledger.holds(job_id, now)
            self._found[job_id] = (now, found)
            return found


def activity(ledger: Ledger, job_id: int, *, lease_ttl: float = DEFAULTS.lease_ttl) -> Activity:
    """The job's workers that have not signed off: live ones, and those silent past their lease or
    whose process is gone (this machine's: known at once); the rate from the ledger's own record."""
    now = time.time()
    live: list[WorkerInfo] = []
    stale: list[WorkerInfo] = []
    for worker in ledger.live_workers(job_id, within=FORGET_WORKERS_AFTER):
        gone = now - worker.heartbeat_at > lease_ttl or process_gone(worker)
        (stale if gone else live).append(worker)
    slowed = next((w.slowed_by for w in live if w.slowed_by), None)
    rate = ledger.requests_since(job_id, now - RATE_WINDOW) / RATE_WINDOW
    return Activity(live, stale, rate, slowed)


#: The jobs page's filters: which jobs each shows.
JOB_FILTERS = ("current", "active", "finished", "archived", "all")


@dataclass(frozen=True)
class JobsPage:
    """One page of the jobs list: the jobs shown, and where it is among the others."""

    jobs: list[JobSummary]
    show: str
    page: int
    pages: int
    total: int
    #: Jobs in each filter (for the filter's links).
    sizes: dict[str, int] = field(default_factory=dict)


def _kind(counts: dict[str, int], archived: bool) -> str:
    if archived:
        return "archived"
    return "active" if any(counts.get(s, 0) for s in OPEN_STATES) else "finished"


def jobs_page(
    ledger: Ledger, show: str = "current", page: int = 0, per_page: int = DEFAULTS.console_jobs_page
) -> JobsPage:
    """The jobs of one filter, newest first, one page of them: ``current`` (not archived), ``active``
    (rows left to send), ``finished`` (none left), ``archived``, ``all``. Counts are read for every job
    in one query (tallies); everything else only for the page's."""
    if show not in JOB_FILTERS:
        show = "current"
    listed = ledger.job_list()
    counts = ledger.all_counts([job_id for job_id, _ in listed])
    kinds = {job_id: _kind(counts[job_id], archived is not None) for job_id, archived in listed}
    chosen = [
        job_id
        for job_id, _ in listed
        if show == "all" or kinds[job_id] == show or (show == "current" and kinds[job_id] != "archived")
    ]
    sizes = {name: sum(1 for k in kinds.values() if k == name) for name in ("active", "finished", "archived")}
    sizes |= {"current": sizes["active"] + sizes["finished"], "all": len(listed)}
    pages = max(1, -(-len(chosen) // per_page))
    page = min(max(page, 0), pages - 1)
    shown = [
        JobSummary(ledger.job(j), counts[j], ledger.outcome_counts(j), activity(ledger, j))
        for j in chosen[page * per_page : (page + 1) * per_page]
    ]
    return JobsPage(shown, show, page, pages, len(chosen), sizes)


def summary(ledger: Ledger, job_id: int, held: HeldCounts | None = None) -> JobSummary:
    """One job's counts and activity: what the job page polls for while it is open."""
    job = ledger.job(job_id)
    counts = ledger.counts(job_id)
    held_rows = held.get(ledger, job_id).rows if held is not None and counts.get("pending") else 0
    return JobSummary(job, counts, ledger.outcome_counts(job_id), activity(ledger, job_id), held_rows)


def job_view(
    ledger: Ledger, job_id: int, held: HeldCounts, problems: ProblemFilter | None = None, *, audit_rows: int = 20
) -> JobView:
    """One job in full (raises JobNotFoundError)."""
    job = ledger.job(job_id)
    problems = problems or ProblemFilter()
    now = time.time()
    minutes = ledger.sent_per_minute(job_id, now - CHART_MINUTES * 60)
    first = int(now // 60) * 60 - (CHART_MINUTES - 1) * 60
    reasons, capped = ledger.failure_reasons(job_id)
    holds = held.get(ledger, job_id)
    return JobView(
        job,
        ledger.counts(job_id),
        ledger.outcome_counts(job_id),
        activity(ledger, job_id),
        holds.rows,
        next_window_at=holds.next_at,
        holds=holds,
        calling_rules=job_calling_rules(job.options)[0].describe(),
        rules=rules_json(job.options),
        per_minute=[(m, minutes.get(m, 0)) for m in range(first, first + CHART_MINUTES * 60, 60)],
        failure_reasons=reasons,
        failure_reasons_capped=capped,
        problems=ledger.problem_rows(
            job_id,
            state=problems.state,
            contains=problems.contains,
            limit=PROBLEMS_PAGE,
            offset=max(0, problems.page) * PROBLEMS_PAGE,
        ),
        problem_filter=problems,
        audit=ledger.audit_trail(job_id, audit_rows),
    )
