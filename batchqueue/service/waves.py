"""``recycle``: a follow-up job (the next wave) of the contacts a job's calls did not reach."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from batchqueue.call_outcome import FINAL
from batchqueue.errors import UsageError
from batchqueue.ledger.waves import WAVE
from batchqueue.service.app import Face
from batchqueue.service.context import ledger_for

#: A submit token as the console's form makes it (``secrets.token_urlsafe``).
_SUBMIT_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class RecycleRequest:
    """Recycle the rows of ``job_id`` whose call ended with one of ``outcomes``."""

    job_id: int
    outcomes: frozenset[str]
    #: Seconds after the parent's last attempt at a contact before the wave may call it again.
    after: int | None = None
    #: One form's submission (the console's): sent again, it finds the wave it made instead.
    submit_token: str | None = None


@dataclass(frozen=True)
class RecycleResult:
    """The wave created (``job_id`` None: no row with those outcomes was left for a wave)."""

    parent_id: int
    job_id: int | None
    #: The wave's number as the ledger holds it, read back once it was committed (None: no wave).
    wave: int | None
    rows: int
    counts: dict[str, int]
    #: Rows with those outcomes that earlier waves had taken already: wave job id → rows.
    taken: dict[int, int] = field(default_factory=dict)
    #: The submit token had made this wave already: it is returned, nothing new was made.
    replayed: bool = False

    @property
    def created(self) -> bool:
        """A new wave was made by this request."""
        return self.job_id is not None and not self.replayed


def recycle(app: Face, request: RecycleRequest) -> RecycleResult:
    """The rows of the job whose call ended with those outcomes, and that no earlier wave took, as a
    new job (its next wave), with the job's rules, do-not-call lists and re-contact limits applied again."""
    unknown = sorted(request.outcomes - FINAL)
    if unknown or not request.outcomes:
        raise UsageError(
            f"--outcome {','.join(unknown) or '(none)'}: give final outcomes among {', '.join(sorted(FINAL))}"
        )
    token = request.submit_token
    if token is not None and not _SUBMIT_TOKEN.fullmatch(token):
        raise UsageError("submit_token: 16 to 64 letters, digits, - or _ (reload the page for a new form)")
    with ledger_for(app) as ledger:
        parent = ledger.job(request.job_id)
        made = ledger.recycle(parent, set(request.outcomes), after=request.after, now=time.time(), submit_token=token)
        if made.job_id is None:
            return RecycleResult(parent.id, None, None, 0, {}, made.taken)
        # The number the made job holds, committed (never one worked out here beside the ledger's).
        wave = int(ledger.job(made.job_id).options[WAVE])
        return RecycleResult(
            parent.id, made.job_id, wave, made.rows, ledger.counts(made.job_id), made.taken, made.replayed
        )
