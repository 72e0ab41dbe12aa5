"""``poll``: ask Insight for the status of queued calls whose outcome is not final yet.

Usage::

    summary = Poller(ledger, client, job, concurrency=4, rate=5).run(until_final=True, interval=60)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from batchqueue.callbacks.call_details import BadPayload, CallDetails, details_from
from batchqueue.exits import EXIT_CODES, EXIT_FINISHED_WITH_PROBLEMS, EXIT_OK, ExitReason
from batchqueue.insight.client import InsightClient
from batchqueue.insight.pacing import Pacer
from batchqueue.insight.replies import Reply, ReplyKind
from batchqueue.ledger import Job, Ledger

_BATCH = 200
log = logging.getLogger(__name__)


@dataclass
class PollSummary:
    """Counts of one ``poll``; ``exit_reason`` is done, deadline, no_readable_reply, fatal_reply or
    interrupted. ``errors`` counts the status replies that told nothing: ``unreadable`` ones (kept in
    each row's outcome history) and failed requests (HTTP 5xx, timeouts)."""

    job_id: int
    checked: int = 0
    recorded: int = 0
    not_found: int = 0
    errors: int = 0
    unreadable: int = 0
    remaining: int = 0
    rounds: int = 0
    exit_reason: ExitReason = ExitReason.DONE
    message: str = ""
    outcomes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "exit_reason": self.exit_reason.value}

    @property
    def exit_code(self) -> int:
        """The poll's exit code: its stop reason's, else 1 when some status replies told nothing."""
        code = EXIT_CODES[self.exit_reason]
        return EXIT_FINISHED_WITH_PROBLEMS if code == EXIT_OK and self.errors else code


def _snippet(body: Any) -> str:
    try:
        return json.dumps(body, ensure_ascii=False, default=str)[:4096]
    except (ValueError, RecursionError):
        return ""


class Poller:
    """Polls one job's unsettled queued rows, paced like ``run``."""

    def __init__(
        self,
        ledger: Ledger,
        client: InsightClient,
        job: Job,
        *,
        concurrency: int = 4,
        rate: float = 5.0,
        on_progress: Callable[[PollSummary], None] | None = None,
    ) -> None:
        self.ledger, self.client, self.job = ledger, client, job
        self.concurrency = concurrency
        self.pacer = Pacer(rate)
        self.on_progress = on_progress
        self.summary = PollSummary(job.id)

    def _ask(self, call_id: str, stop: threading.Event) -> tuple[Reply, dict[str, Any] | None]:
        if not self.pacer.acquire(stop):
            return Reply(ReplyKind.NOT_SENT, error="stopping"), None
        return self.client.call_status(call_id)

    def round(self, stop: threading.Event) -> None:
        """One pass over the rows still waiting for a final outcome."""
        todo = self.ledger.poll_candidates(self.job.id)
        self.summary.rounds += 1
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="poll") as pool:
            for start in range(0, len(todo), _BATCH):
                if stop.is_set():
                    return
                batch = todo[start : start + _BATCH]
                replies = list(pool.map(lambda item: self._ask(item[1], stop), batch))
                found: list[tuple[int, str | None, CallDetails]] = []
                unreadable: list[tuple[int, str, str]] = []
                for (row_id, _), (reply, body) in zip(batch, replies, strict=True):
                    if reply.kind is ReplyKind.NOT_SENT and reply.error == "stopping":
                        continue
                    self.summary.checked += 1
                    if reply.kind is ReplyKind.QUEUED and body is not None:
                        try:
                            found.append((row_id, None, details_from(body)))
                        except BadPayload as exc:
                            unreadable.append((row_id, f"unreadable status reply: {exc}", _snippet(body)))
                    elif reply.status == 404:
                        self.summary.not_found += 1
                        found.append((row_id, None, CallDetails("not_found", raw={"error": reply.error})))
                    elif reply.kind is ReplyKind.FATAL:
                        stop.set()
                        self.summary.exit_reason = ExitReason.FATAL_REPLY
                        self.summary.message = f"Insight answered HTTP {reply.status}: {reply.error}"
                    elif reply.status is not None and 200 <= reply.status < 300:
                        unreadable.append((row_id, f"unreadable status reply: {reply.error}", ""))
                    else:
                        self.summary.errors += 1  # 5xx, timeouts: asked again next round
                self.summary.errors += len(unreadable)
                self.summary.unreadable += len(unreadable)
                self.ledger.record_outcome_errors(unreadable, source="poll")
                verdicts = self.ledger.apply_outcomes(found, source="poll")
                self.summary.recorded += verdicts.count("recorded")
                if self.on_progress:
                    self.on_progress(self.summary)

    def run(
        self,
        *,
        until_final: bool = False,
        interval: float = 60.0,
        deadline: float | None = None,
        stop: threading.Event | None = None,
    ) -> PollSummary:
        """Poll once, or (``until_final``) every ``interval`` seconds until settled or ``deadline`` s pass."""
        stop = stop or threading.Event()
        ends = time.monotonic() + deadline if deadline else None
        while True:
            self.round(stop)
            remaining = len(self.ledger.poll_candidates(self.job.id))
            self.summary.remaining = remaining
            s = self.summary
            log.info(
                "poll round %d: %d reply(ies) so far, %d outcome(s) recorded, %d call(s) still without a final one",
                s.rounds,
                s.checked,
                s.recorded,
                remaining,
                extra={"job": self.job.id, "event": "poll"},
            )
            if stop.is_set():
                if self.summary.exit_reason is ExitReason.DONE:
                    self.summary.exit_reason = ExitReason.INTERRUPTED
                break
            if not until_final or remaining == 0:
                break
            if ends is not None and time.monotonic() + interval > ends:
                self.summary.exit_reason = ExitReason.DEADLINE
                self.summary.message = f"{remaining} call(s) still without a final outcome"
                break
            if stop.wait(interval):
                self.summary.exit_reason = ExitReason.INTERRUPTED
                break
        self._judge_errors()
        self.summary.outcomes = self.ledger.outcome_counts(self.job.id)
        return self.summary

    def _judge_errors(self) -> None:
        """Say how many replies told nothing; a poll that could read none of them did not finish."""
        s = self.summary
        if not s.errors or s.exit_reason not in (ExitReason.DONE, ExitReason.DEADLINE):
            return
        failed = s.errors - s.unreadable
        what = (
            f"{s.unreadable} unreadable (each kept in its row's outcome history), "
            f"{failed} failed (HTTP 5xx, timeouts, no connection)"
        )
        if s.errors == s.checked:
            s.exit_reason = ExitReason.NO_READABLE_REPLY
            s.message = f"no status reply could be read ({s.checked} asked): {what}"
            return
        problems = f"{s.errors} of {s.checked} status replies could not be read: {what}"
        s.message = f"{s.message}; {problems}" if s.message else problems
