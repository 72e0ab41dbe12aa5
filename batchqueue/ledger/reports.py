"""Reading a job's rows for its report, in input order, streamed (a million rows in flat memory)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from batchqueue.ledger.batchsql import in_list, placeholder
from batchqueue.ledger.records import REPORT_COLUMNS, ReportRow
from batchqueue.ledger.schema import rows

_SELECT = ", ".join(REPORT_COLUMNS)
_FETCH = 5000


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
            sql = f"SELECT {_SELECT} FROM rows WHERE id BETWEEN {mark} AND {mark} AND +job_id = {mark}"
            params: list[Any] = [low, high, job_id]
            for column, wanted in (("state", states), ("outcome_status", outcomes)):
                if wanted:
                    sql += f" AND {column} IN {in_list(conn, len(wanted))}"
                    params += sorted(wanted)
            cursor = self._cursor(conn, f"bq_report_{job_id}")
            try:
                cursor.execute(sql + " ORDER BY id", tuple(params))
                make = ReportRow._make
                while batch := cursor.fetchmany(_FETCH):
                    yield from map(make, batch)
            finally:
                cursor.close()

    def state_count(self, job_id: int, states: set[str]) -> int:
        """How many of the job's rows are in ``states``."""
        query = select(func.count()).where(rows.c.job_id == job_id, rows.c.state.in_(sorted(states)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
