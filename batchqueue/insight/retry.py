"""The retry policy, in one place: tenacity, only for replies that prove nothing was queued.

Retried: ``NOT_SENT`` (the request never reached Insight) and ``RATE_LIMITED`` (429, which
honours Retry-After). Never retried here: anything that may have queued a call.

Usage::

    reply = send_with_retries(lambda: client.queue_call(...), policy, pacer, on_attempt=log)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from batchqueue.insight.pacing import Pacer
from batchqueue.insight.replies import Reply, ReplyKind


class _StopWhenSet(stop_base):
    """Stop retrying once the run is stopping."""

    def __init__(self, event: threading.Event | None) -> None:
        self.event = event

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.event is not None and self.event.is_set()


RETRYABLE = frozenset({ReplyKind.NOT_SENT, ReplyKind.RATE_LIMITED})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the in-run retries of one request."""

    attempts: int = 6
    max_seconds: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 30.0


def send_with_retries(
    send: Callable[[], Reply],
    policy: RetryPolicy,
    pacer: Pacer,
    *,
    on_attempt: Callable[[Reply], None],
    stop: threading.Event | None = None,
    retryable: frozenset[ReplyKind] = RETRYABLE,
) -> Reply:
    """Call ``send`` until it gives a non-retryable reply or the policy's bounds are reached.

    Every attempt, the last one included, is passed to ``on_attempt`` (the attempts log).
    ``retryable``: the reply kinds tried again; only a request that cannot queue a call (a GET)
    may add ``AMBIGUOUS`` to :data:`RETRYABLE`.
    """
    backoff = wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait)

    def wait(state: RetryCallState) -> float:
        reply = state.outcome.result() if state.outcome else None
        if reply is not None and reply.kind is ReplyKind.RATE_LIMITED:
            # 429: the whole run slows down, and this request waits as long as it is told.
            pacer.slow_down(0.5, cause="429")
            if reply.retry_after is not None:
                pacer.pause(min(reply.retry_after, policy.max_wait * 4))
                return 0.0
        return float(backoff(state))

    def attempt() -> Reply:
        try:
            ready = pacer.acquire(stop)
        except Exception as exc:
            reply = Reply(ReplyKind.NOT_SENT, error=f"pacing failed before sending: {type(exc).__name__}: {exc}")
            on_attempt(reply)
            return reply
        if not ready:
            return Reply(ReplyKind.NOT_SENT, error="the run was stopping")
        reply = send()
        on_attempt(reply)
        return reply

    extra: dict[str, Any] = {}
    if stop is not None:
        extra["sleep"] = lambda seconds: stop.wait(seconds) and None  # a stopping run does not sleep out a backoff
    retrying = Retrying(
        retry=retry_if_result(lambda r: r.kind in retryable),
        stop=stop_any(stop_after_attempt(policy.attempts), stop_after_delay(policy.max_seconds), _StopWhenSet(stop)),
        wait=wait,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=False,
        **extra,
    )
    result: Reply = retrying(attempt)
    return result
