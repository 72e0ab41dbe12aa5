"""``retry``, ``cancel`` and ``uncancel``: operator actions that put rows back, or aside."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from batchqueue.errors import ApiUnavailableError, BatchFatalError, UsageError
from batchqueue.insight.replies import ReplyKind
from batchqueue.service.app import Face
from batchqueue.service.context import insight_client, ledger_for, target_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryRequest:
    """Failed rows back to pending (uncertain ones only with ``confirm_may_call_twice``)."""

    job_id: int
    status_code: int | None = None
    error_contains: str | None = None
    uncertain: bool = False
    confirm_may_call_twice: bool = False


@dataclass(frozen=True)
class RowsChanged:
    """How many rows an action moved, and the job's counts after it."""

    job_id: int
    changed: int
    counts: dict[str, int]


def retry(app: Face, request: RetryRequest) -> RowsChanged:
    """Put the job's failed rows (and, explicitly confirmed, uncertain ones) back to pending."""
    if request.uncertain and not request.confirm_may_call_twice:
        raise UsageError(
            "uncertain rows may already have been queued, so resending them may call someone twice; "
            "add --confirm-may-call-twice to do it anyway (or wait for callbacks to settle them)"
        )
    with ledger_for(app) as ledger:
        ledger.job(request.job_id)
        changed = ledger.retry_rows(
            request.job_id,
            uncertain=request.uncertain,
            status_code=request.status_code,
            error_contains=request.error_contains,
        )
        return RowsChanged(request.job_id, changed, ledger.counts(request.job_id))


@dataclass(frozen=True)
class CancelRequest:
    """Pending rows canceled; ``remote`` also asks Insight to cancel ALL pending calls of the survey instance."""

    job_id: int
    remote: bool = False


@dataclass(frozen=True)
class CancelResult:
    """What a cancel did."""

    job_id: int
    canceled: int
    remote_status: int | None
    counts: dict[str, int]


def uncancel(app: Face, job_id: int) -> RowsChanged:
    """The job's canceled rows (never sent) back to pending."""
    with ledger_for(app) as ledger:
        ledger.job(job_id)
        changed = ledger.uncancel(job_id)
        return RowsChanged(job_id, changed, ledger.counts(job_id))


def cancel_question(app: Face, job_id: int) -> str:
    """What the front end asks before a cancel: how many rows it stops."""
    with ledger_for(app) as ledger:
        pending = ledger.counts(ledger.job(job_id).id)["pending"]
    return f"Cancel the {pending:,} pending row(s) of job {job_id}? They will not be sent (`uncancel` puts them back)."


def remote_cancel_warning(app: Face, job_id: int) -> str:
    """What the front end must have the user confirm before a remote cancel."""
    with ledger_for(app) as ledger:
        job = ledger.job(job_id)
    return (
        f"Insight cancels ALL pending calls of survey {job.survey_id} instance {job.instance_id} "
        f"({target_of(app, job)}), including calls queued by other jobs or tools. Continue?"
    )


def cancel(app: Face, request: CancelRequest) -> CancelResult:
    """Cancel the job's pending rows; with ``remote``, then ask Insight to cancel its queued calls.

    The rows are canceled in the ledger first; if Insight then refuses, the error (exit 3 or 4)
    says so, and the rows stay canceled.
    """
    with ledger_for(app) as ledger:
        job = ledger.job(request.job_id)
        client = insight_client(app) if request.remote else None
        canceled = ledger.cancel_pending(job.id)
        remote_status = None
        if client is not None:
            log.info("asking %s to cancel all pending calls", target_of(app, job))
            try:
                reply = client.cancel_all(job.survey_id, job.instance_id)
            finally:
                client.close()
            remote_status = reply.status
            if reply.kind is not ReplyKind.QUEUED:
                message = (
                    f"job {job.id}: {canceled} pending row(s) were canceled in the ledger (they will not be sent), "
                    f"but Insight did not cancel its queued calls: {reply.error}"
                )
                error = BatchFatalError if reply.kind is ReplyKind.FATAL else ApiUnavailableError
                raise error(message, status=reply.status)
        return CancelResult(job.id, canceled, remote_status, ledger.counts(job.id))
