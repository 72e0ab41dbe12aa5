"""Workers sharing one job: registration, heartbeats that renew leases, and a shared pace.

On PostgreSQL any number of ``batchqueue run`` processes, on any number of machines, may send the
same job. Each claims rows with ``FOR UPDATE SKIP LOCKED`` and holds them under a lease it renews
by heartbeat; a ``sending`` row whose lease expired belonged to a dead worker and becomes
``uncertain``, never ``pending``. The job-wide ``--rate`` is a token bucket in the database: a
worker takes a few request slots at a time from the job's ``pacing`` row (one short row-locking
UPDATE), so the limit holds for the job as a whole however many workers there are.
"""

from __future__ import annotations

import time

from sqlalchemy import ColumnElement, Engine, insert, or_, select, update

from batchqueue.errors import UsageError
from batchqueue.ledger.batchsql import placeholder
from batchqueue.ledger.database import write
from batchqueue.ledger.records import WorkerInfo
from batchqueue.ledger.schema import claim_budgets, pacing, rows, workers
from batchqueue.lifecycle import RowState


class WorkersLedger:
    """The multi-worker side of the ledger (see :class:`batchqueue.ledger.Ledger`)."""

    engine: Engine

    def _lock(self, *, skip_locked: bool) -> str:
        """The row-locking suffix of a SELECT in a write transaction (see SendingLedger._lock)."""
        return ""

    def _greatest(self, column: ColumnElement[float], value: float) -> ColumnElement[float]:
        """The larger of a column and a value, in this backend's SQL."""
        raise NotImplementedError

    def register_worker(self, worker_id: str, job_id: int, host: str, pid: int) -> None:
        stamp = time.time()
        with write(self.engine) as conn:
            conn.execute(
                insert(workers).values(
                    id=worker_id, job_id=job_id, host=host, pid=pid, started_at=stamp, heartbeat_at=stamp
                )
            )

    def heartbeat(
        self, worker_id: str, *, sent: int, rate: float, lease_ttl: float, slowed_by: str | None = None
    ) -> int:
        """Renew this worker's leases and report its progress; returns how many leases it holds."""
        stamp = time.time()
        with write(self.engine) as conn:
            renewed = conn.execute(
                update(rows)
                .where(rows.c.lease_owner == worker_id, rows.c.state == RowState.SENDING.value)
                .values(lease_expires=stamp + lease_ttl)
            ).rowcount
            conn.execute(
                update(workers)
                .where(workers.c.id == worker_id)
                .values(heartbeat_at=stamp, sent=sent, rate=rate, slowed_by=slowed_by)
            )
        return int(renewed or 0)

    def join_budget(self, job_id: int, worker_id: str, limit: int, *, live_within: float) -> None:
        """A test send on many workers (``run --limit N``): join the job's row budget if a live worker
        shares one of the same N, else start a new one of N rows for this worker and those that join it."""
        stamp = time.time()
        with write(self.engine) as conn:
            mark = placeholder(conn)
            conn.exec_driver_sql(
                f"INSERT INTO claim_budgets (job_id, limit_rows, claimed, members) VALUES ({mark}, {mark}, 0, '') "
                "ON CONFLICT (job_id) DO NOTHING",
                (job_id, limit),
            )
            found = conn.exec_driver_sql(
                f"SELECT limit_rows, members FROM claim_budgets WHERE job_id = {mark}{self._lock(skip_locked=False)}",
                (job_id,),
            ).one()
            members = [m for m in str(found[1]).splitlines() if m and m != worker_id]
            live = (
                conn.execute(
                    select(workers.c.id).where(
                        workers.c.id.in_(members),
                        workers.c.stopped_at.is_(None),
                        workers.c.heartbeat_at >= stamp - live_within,
                    )
                ).all()
                if members
                else []
            )
            if live and int(found[0]) != limit:
                # Resetting the budget under live workers would let the test send go past either limit.
                raise UsageError(
                    f"--limit {limit}: {len(live)} live worker(s) of job {job_id} share a test send of "
                    f"--limit {int(found[0])}; give the same limit, or wait for them to finish"
                )
            if live:
                conn.execute(
                    update(claim_budgets)
                    .where(claim_budgets.c.job_id == job_id)
                    .values(members="\n".join([*members, worker_id]))
                )
            else:  # no live worker shares it: a new test send
                conn.execute(
                    update(claim_budgets)
                    .where(claim_budgets.c.job_id == job_id)
                    .values(limit_rows=limit, claimed=0, members=worker_id)
                )

    def others_sending(self, job_id: int, worker_id: str) -> dict[int, float | None]:
        """Rows of ``job_id`` another worker holds ``sending``: row id → when its lease expires."""
        query = select(rows.c.id, rows.c.lease_expires).where(
            rows.c.job_id == job_id,
            rows.c.state == RowState.SENDING.value,
            or_(rows.c.lease_owner.is_(None), rows.c.lease_owner != worker_id),
        )
        with self.engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(query)}

    def stop_worker(self, worker_id: str, *, sent: int) -> None:
        stamp = time.time()
        with write(self.engine) as conn:
            conn.execute(
                update(workers)
                .where(workers.c.id == worker_id)
                .values(stopped_at=stamp, heartbeat_at=stamp, sent=sent, rate=0.0, slowed_by=None)
            )

    def live_workers(self, job_id: int, *, within: float = 60.0) -> list[WorkerInfo]:
        """Workers of ``job_id`` that are running and heard from in the last ``within`` seconds."""
        query = (
            select(workers)
            .where(
                workers.c.job_id == job_id,
                workers.c.stopped_at.is_(None),
                workers.c.heartbeat_at >= time.time() - within,
            )
            .order_by(workers.c.started_at)
        )
        with self.engine.connect() as conn:
            return [
                WorkerInfo(r.id, r.host, r.pid, r.started_at, r.heartbeat_at, r.sent, r.rate, r.slowed_by)
                for r in conn.execute(query)
            ]

    def take_slots(self, job_id: int, count: int, rate: float) -> float:
        """Reserve ``count`` request slots of the job's shared pace; returns the first slot's time.

        The slots are ``1 / rate`` seconds apart from the returned time on. One UPDATE on the job's
        pacing row: concurrent workers queue on its row lock for a moment, never overlap.
        """
        stamp = time.time()
        step = count / rate
        with write(self.engine) as conn:
            mark = placeholder(conn)
            # Two workers may start at once: the job's pacing row is created by whichever is first.
            conn.exec_driver_sql(
                f"INSERT INTO pacing (job_id, next_at) VALUES ({mark}, {mark}) ON CONFLICT (job_id) DO NOTHING",
                (job_id, stamp),
            )
            moved = conn.execute(
                update(pacing)
                .where(pacing.c.job_id == job_id)
                .values(next_at=self._greatest(pacing.c.next_at, stamp) + step)
                .returning(pacing.c.next_at)
            ).scalar_one()
        return float(moved) - step
