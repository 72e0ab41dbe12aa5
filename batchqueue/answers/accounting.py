"""The join of a whole report to one job, accounted for: every visit is joined to one of the job's
rows, or counted as set aside or ambiguous, with why.

It takes the numbers the ledger streams (each with its visits and its calls among every job of
the survey), asks :func:`~batchqueue.answers.join.join_number` about each, and keeps:

- ``links``: each of the job's rows that a visit answered (row id, visit id), in two arrays of
  machine integers (16 bytes a row: a million rows in 16 MB), and for each of its rows whose
  call has two visits, or shares a visit with another call, a note saying so;
- the counts: ``joined``; ``ambiguous`` by why (``two_calls``, ``two_visits``); and set aside by why
  (``other_jobs``: another job's call was closer; ``before_call``; ``outside_window``; and
  ``too_many`` for a number with more visits than any person gives);
- the first :data:`MAX_LISTED` ambiguous visits, described for people.

Usage::

    account = JoinAccount(job_id=3, slack=60)
    for group in ledger.number_groups(job, "77"):
        account.add(group)
    ledger.replace_answers(3, account.links())
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections import Counter
from collections.abc import Iterator
from typing import Any, Protocol

from batchqueue.answers.join import Verdict, join_number
from batchqueue.ledger.records import Call, Seen

#: Ambiguous visits described one by one (the rest are counted).
MAX_LISTED = 50


class Group(Protocol):
    """One number's visits and calls (:class:`batchqueue.ledger.answers.NumberGroup`)."""

    e164: str
    visits: list[Seen]
    calls: dict[int, Call]
    dropped: int

    @property
    def visit_count(self) -> int: ...


def utc(ts: float | None) -> str:
    """A unix time as ``2026-12-01 14:02:11 UTC`` (empty for none)."""
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _row(call: Call, job_id: int) -> str:
    return f"row {call.row_number}" if call.job_id == job_id else f"job {call.job_id} row {call.row_number}"


class JoinAccount:
    """See the module docstring."""

    def __init__(self, job_id: int, slack: float) -> None:
        self.job_id, self.slack = job_id, slack
        self._rows, self._visits = array("q"), array("q")
        self.notes: dict[int, list[str]] = {}
        self.joined = 0
        self.grouped = 0  # visits of numbers that some job of the survey called
        self.ambiguous: Counter[str] = Counter()
        self.set_aside: Counter[str] = Counter()
        self.listed: list[dict[str, Any]] = []

    def add(self, group: Group) -> None:
        self.grouped += group.visit_count
        calls = list(group.calls.values())
        mine = any(c.job_id == self.job_id for c in calls)
        if group.dropped:
            # So many visits of one number is no person answering: none of them is joined.
            self.set_aside["too_many" if mine else "other_jobs"] += group.visit_count
            return
        two_visits: dict[int, list[float]] = {}
        for decision in join_number(group.visits, calls, self.slack):
            ours = [c for c in decision.calls if c.job_id == self.job_id]
            verdict = decision.verdict
            if verdict is Verdict.JOINED:
                if ours:
                    self._rows.append(ours[0].row_id)
                    self._visits.append(decision.visit_id)
                    self.joined += 1
                else:
                    self.set_aside["other_jobs"] += 1
            elif verdict in (Verdict.TWO_CALLS, Verdict.TWO_VISITS) and ours:
                self.ambiguous[verdict.value] += 1
                rows = ", ".join(_row(c, self.job_id) for c in decision.calls)
                if verdict is Verdict.TWO_CALLS:
                    for call in ours:
                        self._note(
                            call.row_id,
                            f"a visit started {utc(decision.start)} matches {rows} equally; it was not joined",
                        )
                else:
                    two_visits.setdefault(ours[0].row_id, []).append(decision.start)
                if len(self.listed) < MAX_LISTED:
                    self.listed.append(
                        {"phone": group.e164, "start_utc": utc(decision.start), "why": verdict.value, "rows": rows}
                    )
            elif verdict in (Verdict.TWO_CALLS, Verdict.TWO_VISITS):
                self.set_aside["other_jobs"] += 1
            else:
                self.set_aside[verdict.value if mine else "other_jobs"] += 1
        for row_id, starts in two_visits.items():
            when = ", ".join(utc(s) for s in sorted(starts))
            self._note(row_id, f"{len(starts)} visits answer this call (started {when}); none was joined")

    def _note(self, row_id: int, text: str) -> None:
        notes = self.notes.setdefault(row_id, [])
        if len(notes) < 5:
            notes.append(text)

    def links(self) -> Iterator[tuple[int, int | None, str | None]]:
        """(row id, visit id, None) for each joined row, then (row id, None, note) for each noted one."""
        for row_id, visit_id in zip(self._rows, self._visits, strict=True):
            yield row_id, visit_id, None
        for row_id, notes in self.notes.items():
            yield row_id, None, "; ".join(notes)
