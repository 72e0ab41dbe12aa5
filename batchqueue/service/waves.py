"""``recycle``: a follow-up job (the next wave) of the contacts a job's calls did not reach."""

from __future__ import annotations

import time
from dataclasses import dataclass

from batchqueue.call_outcome import FINAL
from batchqueue.errors import UsageError
from batchqueue.ledger.waves import WAVE
from batchqueue.service.context import ledger_for
from batchqueue.settings import Settings


@dataclass(frozen=True)
class RecycleRequest:
    """Recycle the rows of ``job_id`` whose call ended with one of ``outcomes``."""

    job_id: int
    outcomes: frozenset[str]
    #: Seconds after the parent's last attempt at a contact before the wave may call it again.
    after: int | None = None


@dataclass(frozen=True)
class RecycleResult:
    """The wave created (``job_id`` None: no row had those outcomes)."""

    parent_id: int
    job_id: int | None
    wave: int
    rows: int
    counts: dict[str, int]


def recycle(settings: Settings, request: RecycleRequest) -> RecycleResult:
    """The rows of the job whose call ended with those outcomes, as a new job (its next wave),
    with the job's rules, do-not-call lists and re-contact limits applied again."""
    unknown = sorted(request.outcomes - FINAL)
    if unknown or not request.outcomes:
        raise UsageError(
            f"--outcome {','.join(unknown) or '(none)'}: give final outcomes among {', '.join(sorted(FINAL))}"
        )
    with ledger_for(settings) as ledger:
        parent = ledger.job(request.job_id)
        wave = int(parent.options.get(WAVE, 1)) + 1
        made = ledger.recycle(parent, set(request.outcomes), after=request.after, now=time.time())
        if made is None:
            return RecycleResult(parent.id, None, wave, 0, {})
        job_id, count = made
        return RecycleResult(parent.id, job_id, wave, count, ledger.counts(job_id))
