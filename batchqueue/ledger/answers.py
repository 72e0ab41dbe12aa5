"""Survey answers in the ledger: every visit of a saved report (``survey_visits``), and which visit
each row's call gave (``row_answers``), or why none was joined.

The join runs in the ledger and in bounded batches: the calls of the job's survey (rows queued, or
uncertain: those may have been placed) are paired with the report's outbound visits of the same
number (``survey_visits`` is indexed by report and number), ordered by number, and streamed one
number at a time to the pure decider (:mod:`batchqueue.answers.join`). A million visits never sit
in memory at once; one number's visits and calls do.

Usage::

    ledger.keep_visits("77", kept, fetched_at=time.time())          # a page, upserted
    for group in ledger.number_groups(job, "77"): ...                # (number, visits, calls)
    ledger.replace_answers(job.id, links)                            # the job's join, replaced whole
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from batchqueue.ledger.batchsql import placeholder
from batchqueue.ledger.database import write
from batchqueue.ledger.records import Call, Job, KeptVisit, Seen
from batchqueue.ledger.schema import row_answers, survey_visits
from batchqueue.lifecycle import MAY_HAVE_CALLED

#: The states of a row whose call may have been placed: a visit may answer it.
CALLED_STATES = sorted(s.value for s in MAY_HAVE_CALLED)
#: One number's visits beyond this are not joined (no person answers a survey that often).
MAX_VISITS_PER_NUMBER = 1_000
_BATCH = 5_000
_KEPT_COLUMNS = ("report_id", *KeptVisit._fields, "fetched_at")
#: Kinds of visit (``batchqueue.answers.visits.Kind``): only outbound ones are joined.
OUTBOUND, UNREADABLE = "outbound", "unreadable"
_UPDATED = ("kind", "e164", "start_ts", "end_ts", "completed", "answers", "problem", "fetched_at")


@dataclass
class NumberGroup:
    """One number: its visits (at most :data:`MAX_VISITS_PER_NUMBER`; ``dropped`` counts the rest)
    and its calls."""

    e164: str
    visits: list[Seen] = field(default_factory=list)
    calls: dict[int, Call] = field(default_factory=dict)
    dropped: int = 0
    _seen: set[int] = field(default_factory=set)

    def add(self, visit_id: int, start: float, call: Call) -> None:
        if visit_id not in self._seen:
            self._seen.add(visit_id)
            if len(self.visits) < MAX_VISITS_PER_NUMBER:
                self.visits.append(Seen(visit_id, start))
            else:
                self.dropped += 1
        self.calls.setdefault(call.row_id, call)

    @property
    def visit_count(self) -> int:
        return len(self._seen)


def _pairs_sql(mark: str) -> str:
    """Each call of the survey paired with each outbound visit of its number, by number.

    The rows are read through their (job_id, state) index and each is looked up among the visits
    by (report, number): no index on the rows' numbers is needed (an import would pay for one).
    """
    called = ", ".join(f"'{s}'" for s in CALLED_STATES)
    sent_at = (
        "COALESCE((SELECT COALESCE(MIN(CASE WHEN a.call_id IS NOT NULL THEN a.started_at END), MIN(a.started_at)) "
        "FROM attempts a WHERE a.row_id = r.id), r.updated_at, r.created_at)"
    )
    return (
        f"SELECT v.e164, v.id, v.start_ts, r.id, r.job_id, r.row_number, {sent_at}, "
        "COALESCE(r.sent_start_ts, r.start_ts), COALESCE(r.sent_end_ts, r.end_ts) "
        "FROM rows r CROSS JOIN survey_visits v "
        f"WHERE r.job_id IN (SELECT id FROM jobs WHERE survey_id = {mark}) AND r.state IN ({called}) "
        f"AND v.report_id = {mark} AND v.kind = '{OUTBOUND}' AND v.e164 = r.e164 "
        "AND v.start_ts IS NOT NULL ORDER BY v.e164, v.id, r.id"
    )


class AnswersLedger:
    """The answers side of the ledger (see :class:`batchqueue.ledger.store.Ledger`)."""

    engine: Engine

    def _cursor(self, conn: Connection, name: str) -> Any:
        raise NotImplementedError  # the backend's

    def keep_visits(self, report_id: str, kept: Sequence[KeptVisit], *, fetched_at: float) -> None:
        """Keep a page's visits (one transaction): new ones added, known ones updated."""
        if not kept:
            return
        with write(self.engine) as conn:
            mark = placeholder(conn)
            values = ", ".join([mark] * len(_KEPT_COLUMNS))
            sql = (
                f"INSERT INTO survey_visits ({', '.join(_KEPT_COLUMNS)}) VALUES ({values}) "
                "ON CONFLICT (report_id, visit_key) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED)
            )
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.executemany(sql, [(report_id, *k, fetched_at) for k in kept])
            finally:
                cursor.close()

    def visit_counts(self, report_id: str) -> dict[str, int]:
        """The report's visits known, by kind (outbound, inbound, web, other, unreadable)."""
        query = (
            select(survey_visits.c.kind, func.count())
            .where(survey_visits.c.report_id == report_id)
            .group_by(survey_visits.c.kind)
        )
        with self.engine.connect() as conn:
            return {str(kind): int(n) for kind, n in conn.execute(query)}

    def number_groups(self, job: Job, report_id: str) -> Iterator[NumberGroup]:
        """Every number that has both outbound visits in the report and calls among the jobs of
        ``job``'s survey (every wave, every other job of it): its visits and calls, one number at
        a time, by number."""
        with self.engine.connect() as conn:
            cursor = self._cursor(conn, f"bq_answers_{job.id}")
            try:
                cursor.execute(_pairs_sql(placeholder(conn)), (job.survey_id, report_id))
                group: NumberGroup | None = None
                while batch := cursor.fetchmany(_BATCH):
                    for e164, visit_id, start, row_id, job_id, number, sent_at, row_start, row_end in batch:
                        if group is None or group.e164 != e164:
                            if group is not None:
                                yield group
                            group = NumberGroup(e164)
                        sent = float(sent_at)
                        window_start = max(sent, float(row_start)) if row_start is not None else sent
                        end = float(row_end) if row_end is not None else None
                        group.add(int(visit_id), float(start), Call(row_id, job_id, number, sent, window_start, end))
                if group is not None:
                    yield group
            finally:
                cursor.close()

    def replace_answers(self, job_id: int, links: Iterable[tuple[int, int | None, str | None]]) -> int:
        """The job's join, replaced whole in one transaction: (row id, visit id or None, note)."""
        written = 0
        with write(self.engine) as conn:
            conn.execute(row_answers.delete().where(row_answers.c.job_id == job_id))
            mark = placeholder(conn)
            sql = f"INSERT INTO row_answers (row_id, job_id, visit_id, note) VALUES ({mark}, {mark}, {mark}, {mark})"
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                rest = iter(links)
                while batch := list(islice(rest, _BATCH)):
                    cursor.executemany(sql, [(row_id, job_id, visit, note) for row_id, visit, note in batch])
                    written += len(batch)
            finally:
                cursor.close()
        return written

    def joined_answers(self, job_id: int) -> Iterator[tuple[str, str | None]]:
        """The answers (JSON) and the Completed cell of each visit joined to one of the job's rows."""
        query = (
            select(survey_visits.c.answers, survey_visits.c.completed)
            .select_from(row_answers.join(survey_visits, survey_visits.c.id == row_answers.c.visit_id))
            .where(row_answers.c.job_id == job_id)
        )
        with self.engine.connect() as conn:
            for answers, completed in conn.execution_options(yield_per=_BATCH).execute(query):
                yield str(answers), completed

    def outbound_answers(self, report_id: str) -> Iterator[tuple[str, float | None, str]]:
        """(number, start, answers JSON) of every outbound visit of the report whose number was read."""
        query = select(survey_visits.c.e164, survey_visits.c.start_ts, survey_visits.c.answers).where(
            survey_visits.c.report_id == report_id, survey_visits.c.kind == OUTBOUND, survey_visits.c.e164.is_not(None)
        )
        with self.engine.connect() as conn:
            for e164, start, answers in conn.execution_options(yield_per=_BATCH).execute(query):
                yield str(e164), start, str(answers)

    def unreadable_visits(self, report_id: str, limit: int) -> list[tuple[str | None, str | None, str | None]]:
        """The first ``limit`` unreadable visits of the report: (phone, visit type, why)."""
        query = (
            select(survey_visits.c.phone, survey_visits.c.visit_type, survey_visits.c.problem)
            .where(survey_visits.c.report_id == report_id, survey_visits.c.kind == UNREADABLE)
            .order_by(survey_visits.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(p, t, w) for p, t, w in conn.execute(query)]
