"""Waves: a follow-up job of the contacts a job's calls did not reach, linked to it.

``recycle`` copies the rows whose call ended with one of the given outcomes into a new job (the
next wave) with fresh callback tokens, the same request fields and the parent's rules, through the
ordinary atomic import (:meth:`JobsLedger.create_job`), so do-not-call lists and re-contact limits
are applied again. The wave's job options name its ``parent_job_id``, its ``wave`` number (the
first import is wave 1) and its ``family`` (every earlier wave's job id): the re-contact limit
does not count the family's own calls, which are the reason for the wave.

Usage::

    job_id = ledger.recycle(parent, {"failed", "rejected"}, after=4 * 3600, now=time.time())
    ledger.wave_summary(root_id)    # {row_number: (latest outcome, waves that called it)}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select

from batchqueue.ledger.batchsql import in_list, placeholder
from batchqueue.ledger.records import FULL, RUN_MAX, Job, NewRow, RowRun, mint_tokens
from batchqueue.ledger.schema import jobs
from batchqueue.lifecycle import RowState

_QUEUED = RowState.QUEUED.value
_PENDING = RowState.PENDING.value
#: The job options a wave adds.
PARENT, WAVE, FAMILY = "parent_job_id", "wave", "family"


def family_of(job: Job) -> list[int]:
    """The ids of the job's earlier waves (empty for a first import)."""
    return [int(i) for i in job.options.get(FAMILY, [])]


class WavesLedger:
    """Recycling (see the module docstring); part of :class:`batchqueue.ledger.store.Ledger`."""

    engine: Engine

    def create_job(self, job_values: dict[str, Any], runs: Iterable[RowRun], *, phone_column: str = "phone") -> int:
        raise NotImplementedError  # JobsLedger's

    def job(self, job_id: int) -> Job:
        raise NotImplementedError  # JobsLedger's

    def recycle(self, parent: Job, outcomes: set[str], *, after: int | None, now: float) -> tuple[int, int] | None:
        """(the new wave's job id, its rows), or None when no row of ``parent`` has those outcomes.

        With ``after`` (seconds), each contact's call starts no earlier than that long after the
        parent's last attempt at it; a row's own end that would come first is dropped.
        """
        with self.engine.connect() as conn:
            mark = placeholder(conn)
            found = conn.exec_driver_sql(
                "SELECT row_number, cells, phone_number, e164, start_ts, end_ts, max_attempts, reattempt_wait, "
                "result_url, facts, outcome_last_attempt_at, outcome_at FROM rows "
                f"WHERE job_id = {mark} AND state = '{_QUEUED}' AND outcome_status IN {in_list(conn, len(outcomes))} "
                "ORDER BY id",
                (parent.id, *sorted(outcomes)),
            ).all()
        if not found:
            return None
        tokens = mint_tokens(len(found))
        new_rows: list[tuple[Any, ...]] = []
        for r, token in zip(found, tokens, strict=True):
            (number, cells, phone, e164, start, end, attempts, wait, url, facts, last_at, learned_at) = r
            if after is not None:
                start = max(start or 0, int((last_at or learned_at or now) + after))
                if end is not None and end <= start:
                    end = None
            row = NewRow(
                number, cells, phone, e164, start, end, attempts, wait, url, _PENDING, None, None, token, now, facts
            )
            new_rows.append(tuple(row))
        wave = int(parent.options.get(WAVE, 1)) + 1
        options = {
            **{k: v for k, v in parent.options.items() if k != "public_url"},
            PARENT: parent.id,
            WAVE: wave,
            FAMILY: [*family_of(parent), parent.id],
        }
        with self.engine.connect() as conn:
            values = dict(conn.execute(select(jobs).where(jobs.c.id == parent.id)).one()._mapping)
        values.pop("id")
        values |= {
            "fingerprint": f"{values['fingerprint'][:40]}-wave-{wave}-of-{parent.id}"[:64],
            "options": json.dumps(options, separators=(",", ":")),
            "blank_rows": 0,
            "created_at": now,
            "archived_at": None,  # a wave of an archived job is a job of its own, in the lists
            "deleted_at": None,
        }
        runs = [RowRun(FULL, new_rows[i : i + RUN_MAX]) for i in range(0, len(new_rows), RUN_MAX)]
        phone_column = str(json.loads(values["mapping"]).get("phone_column", "phone"))
        return self.create_job(values, runs, phone_column=phone_column), len(new_rows)

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
