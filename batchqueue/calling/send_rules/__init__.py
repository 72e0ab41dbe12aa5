"""The send-time rules every run applies, after the calling windows, inside each claim.

A send-time rule is a ``ClaimReview`` (:mod:`batchqueue.ledger.sending`): the candidate rows
(``Claimed``: ``row_id``, ``row_number``, ``e164``, ``start_ts``/``end_ts``, ``max_attempts``,
``cells``, ``facts``…, in input order) and a ``ClaimContext`` (``now``, the claim's connection
``conn``, ``job_id``) in, one ``Verdict`` per row out: ``Verdict()`` sends it, ``Verdict(start_ts=…,
end_ts=…, max_attempts=…)`` sends it narrower, ``Verdict(send=False, hold_until=…, hold=HoldReason.…,
reason="…")`` holds it pending until then (``hold`` None: ``SEND_TIME_RULE``), with its
particulars, which ``run``, ``status``, the console and the report show. It sees only the rows the
calling windows send, as they narrowed them (``calling/review.then``).

What is listed here is a *maker*: given the job (its ``options`` hold its named rules), the rule
for that job, or None when the job has nothing for it. A new rule: a module in this package, its
maker listed in :data:`SEND_RULES`, and its test; the submitter, the claim and the ledger do not
change. ``run --dry-run`` applies the same rules.

Usage::

    def quiet_minutes(rows: list[Claimed], ctx: ClaimContext) -> list[Verdict]:
        opens = ctx.now - ctx.now % 3600 + 600
        if ctx.now >= opens:
            return [Verdict() for _ in rows]
        return [Verdict(send=False, hold_until=opens, reason="the hour's first 10 minutes") for _ in rows]

    SEND_RULES = (lambda job: quiet_minutes,)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchqueue.ledger import ClaimReview, Job

#: The rule of one job (None: nothing to check for it).
SendRule = Callable[["Job"], "ClaimReview | None"]

#: Applied in this order, after the calling windows and before a request's own ``review``.
SEND_RULES: tuple[SendRule, ...] = ()


def for_job(job: Job) -> list[ClaimReview]:
    """The send-time rules that apply to ``job``, in order."""
    return [review for make in SEND_RULES if (review := make(job)) is not None]
