"""A job's rows by state and by outcome, and its requests per minute, read from ``row_tallies``
instead of counted.

The import adds its rows' tallies in its own transaction (:func:`add_tallies`; a trigger per
inserted row would slow an import by half); triggers on ``rows`` (migration 0009) tally every later
state change, outcome change and delete in the transaction that makes it, so the tallies are
exactly as current as the rows. On SQLite
(one writer at a time) each (job, kind, value) is one row updated in place. On PostgreSQL each
statement appends its own aggregated deltas, so concurrent workers never wait on a shared row; a
reader sums them and folds a job's deltas into one row per value once they pile up
(:meth:`TalliesLedger.fold_tallies`, one ``DELETE … RETURNING`` statement: a delta is folded
exactly once even with two readers folding at once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine, func, insert, select

from batchqueue.ledger.database import write
from batchqueue.ledger.schema import row_tallies
from batchqueue.lifecycle import RowState

#: A job whose tallies have more rows than this is folded by the reader that finds it so.
FOLD_AFTER = 500

_FOLD_POSTGRES = """
WITH gone AS (DELETE FROM row_tallies WHERE job_id = %(job)s RETURNING kind, value, n)
INSERT INTO row_tallies (job_id, kind, value, n)
SELECT %(job)s, kind, value, sum(n) FROM gone GROUP BY kind, value HAVING sum(n) <> 0
"""


def add_tallies(conn: Connection, job_id: int, states: Mapping[str, int]) -> None:
    """Tally a job's newly inserted rows (``states``: how many in each state), in the import's transaction."""
    if states:
        conn.execute(
            insert(row_tallies),
            [{"job_id": job_id, "kind": "state", "value": state, "n": n} for state, n in states.items()],
        )


class TalliesLedger:
    """Counting rows without counting them (see :class:`batchqueue.ledger.Ledger`)."""

    engine: Engine
    backend: str

    def _tallies(self, job_ids: Sequence[int], kind: str) -> dict[int, dict[str, int]]:
        query = (
            select(row_tallies.c.job_id, row_tallies.c.value, func.sum(row_tallies.c.n), func.count())
            .where(row_tallies.c.job_id.in_(job_ids), row_tallies.c.kind == kind)
            .group_by(row_tallies.c.job_id, row_tallies.c.value)
        )
        found: dict[int, dict[str, int]] = {job_id: {} for job_id in job_ids}
        pieces = dict.fromkeys(job_ids, 0)
        with self.engine.connect() as conn:
            for job_id, value, total, n in conn.execute(query):
                pieces[job_id] += n
                if total:
                    found[job_id][value] = int(total)
        for job_id, n in pieces.items():
            if n > FOLD_AFTER:
                self.fold_tallies(job_id)
        return found

    def all_counts(self, job_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Rows by state for each of ``job_ids``, every state named (zeros included)."""
        found = self._tallies(job_ids, "state")
        return {job_id: {state.value: found[job_id].get(state.value, 0) for state in RowState} for job_id in job_ids}

    def counts(self, job_id: int) -> dict[str, int]:
        """Rows of a job by state, every state named (zeros included)."""
        return self.all_counts([job_id])[job_id]

    def outcome_counts(self, job_id: int) -> dict[str, int]:
        """Queued rows by outcome status (the rows that have one)."""
        return self._tallies([job_id], "outcome")[job_id]

    def sent_per_minute(self, job_id: int, since: float) -> dict[int, int]:
        """Requests sent each minute (its unix time) from ``since`` on."""
        found = self._tallies([job_id], "minute")[job_id]
        return {int(minute): n for minute, n in found.items() if int(minute) >= since - 60}

    def fold_tallies(self, job_id: int) -> None:
        """A job's deltas folded into one row per value (PostgreSQL; SQLite keeps one already)."""
        if self.backend != "postgresql":
            return
        with write(self.engine) as conn:
            conn.exec_driver_sql(_FOLD_POSTGRES, {"job": job_id})
