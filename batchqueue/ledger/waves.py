"""Waves: a follow-up job of the contacts a job's calls did not reach, linked to it.

``recycle`` copies the rows whose call ended with one of the given outcomes into a new job (the
next wave) with fresh callback tokens, the same request fields and the parent's rules, in the
ordinary import's transaction (:meth:`JobsLedger._create_job`), so do-not-call lists and re-contact
limits are applied again. The wave's job options name its ``parent_job_id``, its ``wave`` number
(the first import is wave 1) and its ``family`` (every earlier wave's job id): the re-contact limit
does not count the family's own calls, which are the reason for the wave.

A row goes into one wave only: the parent's row keeps the wave that took it (``taken_by_wave``),
in the transaction that makes the wave, and a later recycle takes only rows no wave has taken.
Recycles of one parent are serialised (a lock on the parent's job row on PostgreSQL; SQLite has
one writer), so two at the same moment cannot both take a row. A console form carries a submit
token stored with the wave it made: the same form sent again finds that wave instead.

Usage::

    made = ledger.recycle(parent, {"failed", "rejected"}, after=4 * 3600, now=time.time())
    made.job_id, made.rows, made.taken   # the wave (None: nothing left), its rows, {earlier wave: rows}
    ledger.wave_summary(root_id)         # {row_number: (latest outcome, waves that called it)}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import IntegrityError

from batchqueue.errors import UsageError
from batchqueue.ledger.batchsql import in_list, placeholder
from batchqueue.ledger.database import write
from batchqueue.ledger.records import FULL, RUN_MAX, Job, NewRow, RowRun, mint_tokens
from batchqueue.ledger.schema import jobs, rows
from batchqueue.lifecycle import IMPORTED, RowState

_QUEUED = RowState.QUEUED.value
_IMPORTED = IMPORTED.value
#: The job options a wave adds.
PARENT, WAVE, FAMILY = "parent_job_id", "wave", "family"
#: Rows marked taken per statement (bound parameters stay far below every backend's limit).
_MARK_BATCH = 5000


def family_of(job: Job) -> list[int]:
    """The ids of the job's earlier waves (empty for a first import)."""
    return [int(i) for i in job.options.get(FAMILY, [])]


@dataclass(frozen=True)
class Recycled:
    """What one recycle did."""

    #: The wave made (None: no row with those outcomes was left for a wave).
    job_id: int | None
    #: Its rows.
    rows: int
    #: Rows with those outcomes that earlier waves had taken: wave job id → rows.
    taken: dict[int, int] = field(default_factory=dict)
    #: The submit token had made this wave already (the same form sent again): nothing new was made.
    replayed: bool = False


class WavesLedger:
    """Recycling (see the module docstring); part of :class:`batchqueue.ledger.store.Ledger`."""

    engine: Engine

    def _create_job(
        self,
        conn: Connection,
        job_values: dict[str, Any],
        runs: Iterable[RowRun],
        late_values: Callable[[], dict[str, Any]] | None = None,
        *,
        phone_column: str,
    ) -> int:
        raise NotImplementedError  # JobsLedger's

    def _lock(self, *, skip_locked: bool) -> str:
        raise NotImplementedError  # the backend's

    def job(self, job_id: int) -> Job:
        raise NotImplementedError  # JobsLedger's

    def recycle(
        self, parent: Job, outcomes: set[str], *, after: int | None, now: float, submit_token: str | None = None
    ) -> Recycled:
        """The rows of ``parent`` whose call ended with one of ``outcomes`` and that no wave has
        taken yet, as a new job (the next wave), in one transaction; see :class:`Recycled`.

        With ``after`` (seconds), each contact's call starts no earlier than that long after the
        parent's last attempt at it; a row's own end that would come first is dropped. With
        ``submit_token``, a wave this token made already is returned instead (``replayed``).
        """
        try:
            with write(self.engine) as conn:
                # Every recycle of this parent waits here until the one before it commits, so it
                # sees the rows that one took (SQLite's BEGIN IMMEDIATE already serialises writers).
                lock = self._lock(skip_locked=False)
                conn.exec_driver_sql(f"SELECT id FROM jobs WHERE id = {placeholder(conn)}{lock}", (parent.id,))
                if submit_token is not None:
                    made = _made_by(conn, parent, submit_token)
                    if made is not None:
                        return made
                return self._take(conn, parent, sorted(outcomes), after, now, submit_token)
        except IntegrityError:
            # Only the submit token is unique among what a recycle writes: a token sent for two
            # parents at the same moment (a tampered form).
            raise UsageError("this form was already sent for another job; reload the page") from None

    def _take(
        self,
        conn: Connection,
        parent: Job,
        outcomes: list[str],
        after: int | None,
        now: float,
        submit_token: str | None,
    ) -> Recycled:
        mark = placeholder(conn)
        which = f"job_id = {mark} AND state = '{_QUEUED}' AND outcome_status IN {in_list(conn, len(outcomes))}"
        taken = {
            int(wave): int(n)
            for wave, n in conn.exec_driver_sql(
                f"SELECT taken_by_wave, COUNT(*) FROM rows WHERE {which} AND taken_by_wave IS NOT NULL "
                "GROUP BY taken_by_wave ORDER BY taken_by_wave",
                (parent.id, *outcomes),
            )
        }
        found = conn.exec_driver_sql(
            "SELECT id, row_number, cells, phone_number, e164, start_ts, end_ts, max_attempts, reattempt_wait, "
            f"result_url, facts, outcome_last_attempt_at, outcome_at FROM rows WHERE {which} "
            "AND taken_by_wave IS NULL ORDER BY id",
            (parent.id, *outcomes),
        ).all()
        if not found:
            return Recycled(None, 0, taken)
        new_rows: list[tuple[Any, ...]] = []
        for r, secret in zip(found, mint_tokens(len(found)), strict=True):  # fresh callback tokens
            (_, number, cells, phone, e164, start, end, attempts, wait, url, facts, last_at, learned_at) = r
            if after is not None:
                start = max(start or 0, int((last_at or learned_at or now) + after))
                if end is not None and end <= start:
                    end = None
            row = NewRow(
                number, cells, phone, e164, start, end, attempts, wait, url, _IMPORTED, None, None, secret, now, facts
            )
            new_rows.append(tuple(row))
        wave = int(parent.options.get(WAVE, 1)) + 1
        options = {
            **{k: v for k, v in parent.options.items() if k != "public_url"},
            PARENT: parent.id,
            WAVE: wave,
            FAMILY: [*family_of(parent), parent.id],
        }
        values = dict(conn.execute(select(jobs).where(jobs.c.id == parent.id)).one()._mapping)
        values.pop("id")
        values |= {
            "fingerprint": f"{values['fingerprint'][:40]}-wave-{wave}-of-{parent.id}"[:64],
            "options": json.dumps(options, separators=(",", ":")),
            "blank_rows": 0,
            "created_at": now,
            "submit_token": submit_token,
            "archived_at": None,  # a wave of an archived job is a job of its own, in the lists
            "deleted_at": None,
        }
        runs = [RowRun(FULL, new_rows[i : i + RUN_MAX]) for i in range(0, len(new_rows), RUN_MAX)]
        phone_column = str(json.loads(values["mapping"]).get("phone_column", "phone"))
        job_id = self._create_job(conn, values, runs, phone_column=phone_column)
        ids = [r[0] for r in found]
        marked = 0
        for i in range(0, len(ids), _MARK_BATCH):
            batch = ids[i : i + _MARK_BATCH]
            marked += int(
                conn.exec_driver_sql(
                    f"UPDATE rows SET taken_by_wave = {mark} WHERE id IN {in_list(conn, len(batch))} "
                    "AND taken_by_wave IS NULL",
                    (job_id, *batch),
                ).rowcount
                or 0
            )
        if marked != len(ids):  # the parent is locked: no other recycle can have taken them
            raise RuntimeError(f"recycle copied {len(ids)} rows but marked {marked} taken: nothing was made")
        return Recycled(job_id, len(new_rows), taken)

    def waves(self, job: Job) -> list[Job]:
        """Every wave of the job's family, first import first (just the job when it has none)."""
        root = (family_of(job) or [job.id])[0]
        with self.engine.connect() as conn:
            found = conn.execute(
                select(jobs.c.id, jobs.c.options).where(jobs.c.deleted_at.is_(None)).order_by(jobs.c.id)
            ).all()
        return [self.job(i) for i, raw in found if i == root or root in json.loads(raw or "{}").get(FAMILY, [])]

    def wave_summary(self, job_ids: list[int]) -> dict[int, tuple[str | None, int]]:
        """Row number → (the latest outcome among the waves, how many waves' calls were queued)."""
        summary: dict[int, tuple[str | None, int]] = {}
        with self.engine.connect() as conn:
            found = conn.exec_driver_sql(
                f"SELECT row_number, outcome_status FROM rows WHERE job_id IN {in_list(conn, len(job_ids))} "
                f"AND state = '{_QUEUED}' ORDER BY job_id",
                tuple(job_ids),
            )
            for number, outcome in found:
                latest, waves = summary.get(number, (None, 0))
                summary[number] = (outcome or latest, waves + 1)
        return summary


def _made_by(conn: Connection, parent: Job, token: str) -> Recycled | None:
    """The wave a submit token made already, if any (the same form sent again)."""
    made = conn.execute(select(jobs.c.id, jobs.c.options).where(jobs.c.submit_token == token)).first()
    if made is None:
        return None
    if json.loads(made.options or "{}").get(PARENT) != parent.id:
        raise UsageError("this form was already sent for another job; reload the page")
    count = conn.execute(select(func.count()).select_from(rows).where(rows.c.job_id == made.id)).scalar_one()
    return Recycled(int(made.id), int(count), {}, replayed=True)
