"""Looking after jobs: ``job edit`` (survey/instance), ``job archive``/``unarchive``, ``job delete``
and ``jobs prune``. The command line and the console call these; each change is in the audit trail.

A job is never changed while it is being sent: on SQLite the job's run lock is held for the change
(a run cannot start meanwhile); on PostgreSQL a job with a live worker is refused.

Usage::

    edit_target(settings, EditRequest(3, survey_id="4243", instance_id="1"), user="cli:ana")
    delete_job(settings, DeleteRequest(3, confirmed=True), user="cli:ana")
    prune(settings, PruneRequest(older_than=30 * 86400, dry_run=True), user="cli:ana")
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from batchqueue.call_outcome import FINAL
from batchqueue.errors import UsageError
from batchqueue.ledger import Job, Ledger
from batchqueue.lifecycle import OPEN_STATES
from batchqueue.service import audit
from batchqueue.service.app import Face
from batchqueue.service.context import ledger_for
from batchqueue.service.job_page import activity

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@contextmanager
def quiet_job(ledger: Ledger, job_id: int, doing: str) -> Iterator[Job]:
    """The job, with nothing sending it for as long as the block lasts (a UsageError otherwise)."""
    job = ledger.job(job_id)
    if ledger.path:
        from batchqueue.errors import LedgerBusyError
        from batchqueue.sending.locks import RunLock

        try:
            with RunLock(Path(ledger.path), job_id):
                yield job
        except LedgerBusyError:
            raise UsageError(f"job {job_id} is being sent right now: pause it (Ctrl-C), then {doing}") from None
        return
    if activity(ledger, job_id).running:
        raise UsageError(f"job {job_id} is being sent right now (a live worker): stop it, then {doing}")
    yield job


def open_calls(ledger: Ledger, job_id: int) -> int:
    """Calls the job queued in Insight whose final outcome is not known yet (they may still ring)."""
    queued = ledger.counts(job_id)["queued"]
    final = sum(n for status, n in ledger.outcome_counts(job_id).items() if status in FINAL)
    return max(0, queued - final)


@dataclass(frozen=True)
class EditRequest:
    """Send ``job_id``'s rows to another survey/instance (None: keep it)."""

    job_id: int
    survey_id: str | None = None
    instance_id: str | None = None
    #: Change it although requests were sent already (they stay with the old survey).
    force: bool = False


@dataclass(frozen=True)
class EditResult:
    job_id: int
    before: tuple[str, str]
    after: tuple[str, str]
    sent_before: bool


def sent_warning(job: Job) -> str:
    """What changing the survey of a job that sent requests means (the question ``--force`` answers)."""
    return (
        f"job {job.id} has sent requests to survey {job.survey_id} instance {job.instance_id} already: the calls "
        "they queued stay there (and their outcomes still reach this job); only its rows not sent yet will go "
        "to the new survey"
    )


def edit_target(app: Face, request: EditRequest, *, user: str) -> EditResult:
    """The job's survey/instance changed (refused once anything was sent, unless ``force``)."""
    for name, value in (("--survey", request.survey_id), ("--instance", request.instance_id)):
        if value is not None and not _ID.fullmatch(value):
            raise UsageError(f"{name} {value!r}: expected the id shown in Insight (letters, digits, - _ .)")
    if request.survey_id is None and request.instance_id is None:
        raise UsageError("say what to change: --survey ID and/or --instance ID")
    with ledger_for(app) as ledger, quiet_job(ledger, request.job_id, "edit it") as job:
        sent = ledger.anything_sent(job.id)
        if sent and not request.force:
            raise UsageError(f"{sent_warning(job)}. Add --force to change it anyway")
        after = (request.survey_id or job.survey_id, request.instance_id or job.instance_id)
        ledger.set_target(job.id, *after)
        detail = f"survey/instance {job.survey_id}/{job.instance_id} → {after[0]}/{after[1]}"
        audit.record(ledger, user, "edit", job.id, detail + (" (forced: requests had been sent)" if sent else ""))
        return EditResult(job.id, (job.survey_id, job.instance_id), after, sent)


def archive(app: Face, job_id: int, *, user: str, undo: bool = False) -> Job:
    """Archive the job (kept whole, out of the lists, not sent until unarchived), or bring it back."""
    with ledger_for(app) as ledger, quiet_job(ledger, job_id, "archive it") as job:
        ledger.set_archived(job_id, None if undo else time.time())
        audit.record(ledger, user, "unarchive" if undo else "archive", job_id, job.source_name)
        return ledger.job(job_id)


@dataclass(frozen=True)
class DeleteRequest:
    job_id: int
    #: Delete it although calls it queued may still ring (their outcomes could not be recorded).
    confirmed: bool = False


@dataclass(frozen=True)
class Deleted:
    job_id: int
    source_name: str
    rows: int
    open_calls: int


def delete_question(app: Face, job_id: int) -> str | None:
    """What deleting the job would lose that a person should be asked about (None: nothing)."""
    with ledger_for(app) as ledger:
        return _delete_question(ledger, ledger.job(job_id))


def _delete_question(ledger: Ledger, job: Job) -> str | None:
    waiting = open_calls(ledger, job.id)
    if not waiting:
        return None
    return (
        f"job {job.id} has {waiting:,} call(s) queued in Insight without a final outcome: they may still ring, "
        f"and their outcomes could no longer be recorded. Export its report first "
        f"(batchqueue export {job.id} -o report.xlsx)"
    )


def delete_job(app: Face, request: DeleteRequest, *, user: str) -> Deleted:
    """The job and its rows deleted (the numbers' contact history, do-not-call lists and the audit
    trail are kept); a job with calls that may still ring only when ``confirmed``."""
    with ledger_for(app) as ledger, quiet_job(ledger, request.job_id, "delete it") as job:
        question = _delete_question(ledger, job)
        if question and not request.confirmed:
            raise UsageError(f"{question}; then confirm (--yes)")
        waiting = open_calls(ledger, job.id)
        rows = ledger.delete_job(job.id)
        audit.record(
            ledger, user, "delete", job.id, f"{job.source_name}: {rows:,} row(s), {waiting:,} call(s) still open"
        )
        return Deleted(job.id, job.source_name, rows, waiting)


@dataclass(frozen=True)
class PruneRequest:
    """Delete the jobs nothing happened to for ``older_than`` seconds (``dry_run``: only list them)."""

    older_than: int
    dry_run: bool = False


@dataclass
class PruneResult:
    deleted: list[Deleted] = field(default_factory=list)  # (or, in a dry run, that would be)
    kept: list[tuple[int, str]] = field(default_factory=list)  # (job id, why it stays)
    dry_run: bool = False


def prune(app: Face, request: PruneRequest, *, user: str) -> PruneResult:
    """Jobs imported more than ``older_than`` ago that sent nothing within it either, deleted; a job
    with rows still to send (pending, sending) or being sent is kept, with why."""
    cutoff = time.time() - request.older_than
    found = PruneResult(dry_run=request.dry_run)
    with ledger_for(app) as ledger:
        listed = [job_id for job_id, _ in ledger.job_list()][::-1]
        last_sent = ledger.last_request_at(listed)
        counts = ledger.all_counts(listed)
        for job_id in listed:
            job = ledger.job(job_id)
            if job.created_at > cutoff or last_sent.get(job_id, 0.0) > cutoff:
                continue
            left = sum(counts[job_id][state] for state in OPEN_STATES)
            if left:
                found.kept.append((job_id, f"{left:,} row(s) still to send: delete it with `batchqueue job delete`"))
                continue
            if request.dry_run:
                found.deleted.append(Deleted(job_id, job.source_name, sum(counts[job_id].values()), 0))
                continue
            try:
                done = delete_job(app, DeleteRequest(job_id, confirmed=True), user=user)
            except UsageError as exc:
                found.kept.append((job_id, str(exc)))
                continue
            found.deleted.append(done)
    return found
