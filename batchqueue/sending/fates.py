"""What became of each row a worker claimed, kept until the ledger has it.

A worker that loses its ledger (a PostgreSQL connection cut or refused, an SQLite ledger locked)
still knows, for each row it claimed, whether the request left and what Insight answered. That is
the only place the truth exists: if the worker exits without writing it, a recovery later finds
the row ``sending`` and must call it ``uncertain`` ("we cannot know whether it left") although
this worker knew. So the fates are kept here, in memory, and written with backoff (tenacity) until
the ledger takes them or ``ledger_wait`` seconds pass; then every row this worker claimed and never
sent goes back to ``pending`` — also one another worker found ``sending`` meanwhile and made
``uncertain`` (lifecycle: NEVER_SENT, guarded by the claim's owner).

Usage::

    fates = Fates(ledger, job_id, worker_id, wait=300)
    fates.keep(settlements, never_sent_ids)   # while the ledger is lost, or at the end
    done = fates.write()                      # retried until the ledger answers
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from batchqueue.errors import EnvironmentFailure
from batchqueue.ledger import Ledger, Settlement
from batchqueue.lifecycle import Conflict

log = logging.getLogger(__name__)

#: What a ledger that cannot be reached, or is locked, raises.
LEDGER_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, PoolTimeout, EnvironmentFailure)


@dataclass
class Written:
    """What :meth:`Fates.write` did."""

    conflicts: list[Conflict] = field(default_factory=list)
    released: int = 0
    #: Why the fates could not be written (None: they were).
    given_up: str | None = None


class Fates:
    """One worker's rows' fates, until they are in the ledger."""

    def __init__(self, ledger: Ledger, job_id: int, owner: str, wait: float) -> None:
        self.ledger, self.job_id, self.owner, self.wait = ledger, job_id, owner, wait
        #: True once a ledger write failed: nothing more is claimed, fates are only kept.
        self.lost = False
        self._settlements: list[Settlement] = []
        self._never_sent: list[int] = []
        #: Rows whose request may have left this worker (they are never put back to pending).
        self._left: set[int] = set()

    def may_have_left(self, row_id: int) -> None:
        self._left.add(row_id)

    def keep(self, settlements: Sequence[Settlement], never_sent: Sequence[int]) -> None:
        self._settlements += settlements
        self._never_sent += never_sent

    @property
    def kept(self) -> int:
        return len(self._settlements) + len(self._never_sent)

    def write(self) -> Written:
        """Write every kept fate, then put back every row this worker claimed and never sent.

        Retried with exponential backoff (0.5 s up to 15 s between tries) while the ledger raises
        a connection or lock error, for at most ``wait`` seconds."""
        done = Written()
        retrying = Retrying(
            retry=retry_if_exception_type(LEDGER_ERRORS),
            stop=stop_after_delay(self.wait),
            wait=wait_exponential(multiplier=0.5, max=15),
            before_sleep=self._say_waiting,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if self._settlements:
                        done.conflicts += self.ledger.record(self._settlements, owner=self.owner)
                        self._settlements = []
                    if self._never_sent:
                        done.conflicts += [
                            c for c in self.ledger.release(self._never_sent, owner=self.owner) if c.found != "uncertain"
                        ]  # one found uncertain (a recovery came first) goes back just below
                        self._never_sent = []
                    done.released = self.ledger.release_unsent(self.job_id, self.owner, self._left)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            done.given_up = (
                f"the ledger did not answer for {self.wait:g}s (--ledger-wait; last: {type(cause).__name__}); "
                f"{self.kept} row outcome(s) of this worker could not be written, and its rows still "
                "'sending' will be found uncertain"
            )
            log.error("%s", done.given_up)
            for s in self._settlements:
                log.error("row %d: %s (call id %s) — not written to the ledger", s.row_id, s.event.value, s.call_id)
            for row_id in self._never_sent:
                log.error("row %d: never sent — not written to the ledger", row_id)
            return done
        if self.lost:
            log.warning(
                "the ledger answered again: every row's outcome written, %d never-sent row(s) put back", done.released
            )
        elif done.released:
            log.info("%d row(s) claimed but never sent put back to pending", done.released)
        return done

    def _say_waiting(self, state: object) -> None:
        outcome = getattr(state, "outcome", None)
        error = outcome.exception() if outcome is not None else None
        log.warning(
            "the ledger did not take this worker's outcomes (%s); trying again (up to %gs in all)",
            type(error).__name__,
            self.wait,
        )
        self.lost = True
