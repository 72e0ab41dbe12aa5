"""Reading a job's rows for its report, in input order, streamed (a million rows in flat memory);
with their survey answers, when the job has any (``batchqueue answers``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, func, select

from batchqueue.ledger.batchsql import in_list, placeholder
from batchqueue.ledger.records import REPORT_COLUMNS, ReportRow
from batchqueue.ledger.schema import rows

_SELECT = ", ".join(f"rows.{c}" for c in REPORT_COLUMNS)
_WIDTH = len(REPORT_COLUMNS)
#: The answers of a row's call (the visit joined to it, or the note saying why none was).
_ANSWERS = (
    ", v.answers, v.start_ts, v.completed, a.note FROM rows "
    "LEFT JOIN row_answers a ON a.row_id = rows.id LEFT JOIN survey_visits v ON v.id = a.visit_id"
)
_FETCH = 5000


class VisitCells(NamedTuple):
    """What a report row shows of its call's survey visit: answers (JSON), start, Completed, note."""

    answers: str | None
    start: float | None
    completed: str | None
    note: str | None


class ReportsLedger:
    """The report side of the ledger (see :class:`batchqueue.ledger.store.Ledger`)."""

    engine: Engine

    def _cursor(self, conn: Connection, name: str) -> Any:
        """A DB-API cursor that does not fetch a whole job into memory."""
        raise NotImplementedError

    def report_rows(
        self, job_id: int, *, states: set[str] | None = None, outcomes: set[str] | None = None
    ) -> Iterator[ReportRow]:
        """The job's rows (filtered by state and call outcome), in input order."""
        make = ReportRow._make
        for batch in self._report_batches(job_id, states, outcomes, answers=False):
            yield from map(make, batch)

    def answered_report_rows(
        self, job_id: int, *, states: set[str] | None = None, outcomes: set[str] | None = None
    ) -> Iterator[tuple[ReportRow, VisitCells]]:
        """The job's rows as :meth:`report_rows` gives them, each with its call's survey visit."""
        make, visit = ReportRow._make, VisitCells._make
        for batch in self._report_batches(job_id, states, outcomes, answers=True):
            for record in batch:
                yield make(record[:_WIDTH]), visit(record[_WIDTH:])

    def _report_batches(
        self, job_id: int, states: set[str] | None, outcomes: set[str] | None, *, answers: bool
    ) -> Iterator[list[Any]]:
        # Plain DB-API fetches: a million SQLAlchemy Row objects would cost a fifth of an export.
        with self.engine.connect() as conn:
            mark = placeholder(conn)
            # A job's rows come out in input order by walking the primary key over the job's id
            # range ("+job_id" keeps SQLite off the (job_id, state) index, which would need a sort
            # of the whole job in a temporary file first).
            low, high = conn.execute(
                select(func.min(rows.c.id), func.max(rows.c.id)).where(rows.c.job_id == job_id)
            ).one()
            if low is None:
                return
            source = _ANSWERS if answers else " FROM rows"
            sql = f"SELECT {_SELECT}{source} WHERE rows.id BETWEEN {mark} AND {mark} AND +rows.job_id = {mark}"
            params: list[Any] = [low, high, job_id]
            for column, wanted in (("state", states), ("outcome_status", outcomes)):
                if wanted:
                    sql += f" AND rows.{column} IN {in_list(conn, len(wanted))}"
                    params += sorted(wanted)
            cursor = self._cursor(conn, f"bq_report_{job_id}")
            try:
                cursor.execute(sql + " ORDER BY rows.id", tuple(params))
                while batch := cursor.fetchmany(_FETCH):
                    yield batch
            finally:
                cursor.close()

    def state_count(self, job_id: int, states: set[str]) -> int:
        """How many of the job's rows are in ``states``."""
        query = select(func.count()).where(rows.c.job_id == job_id, rows.c.state.in_(sorted(states)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
