"""Jobs: the atomic import of a job with its rows (and their tallies), finding jobs again."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from batchqueue.errors import JobNotFoundError
from batchqueue.ledger.caps import suppress_over_limit_at_import
from batchqueue.ledger.contacts import (
    ContactRules,
    job_contact_rules,
    suppress_recontacts_at_import,
    suppress_same_file_at_import,
    suppressed_because_of,
)
from batchqueue.ledger.database import write
from batchqueue.ledger.dnc import suppress_imported
from batchqueue.ledger.records import BARE, FULL, IMPORT_COLUMNS, Job, Overlap, RowRun
from batchqueue.ledger.reimports import same_file_jobs, shared_numbers
from batchqueue.ledger.schema import jobs
from batchqueue.ledger.tallies import add_tallies
from batchqueue.lifecycle import IMPORTED


def _job(record: Any) -> Job:
    return Job(
        id=record.id,
        survey_id=record.survey_id,
        instance_id=record.instance_id,
        source_name=record.source_name,
        source_sha256=record.source_sha256,
        source_kind=record.source_kind,
        sheet=record.sheet,
        headers=json.loads(record.headers),
        mapping=json.loads(record.mapping),
        options=json.loads(record.options),
        blank_rows=record.blank_rows,
        created_at=record.created_at,
        fingerprint=record.fingerprint,
        archived_at=record.archived_at,
    )


_STATE_AT = IMPORT_COLUMNS.index("state")
#: The job option that keeps, from its import, how many rows the re-contact rules suppressed, by the job
#: that had called their number: ``{"within": {job: rows}, "same_file": {job: rows}}`` (the period's
#: rule, and the rule of jobs of the same file).
RECONTACTED = "recontacted_at_import"


def _counted(runs: Iterable[RowRun], states: Counter[str]) -> Iterator[RowRun]:
    """``runs`` as they are, counting their rows by state into ``states`` on the way."""
    for run in runs:
        if run.shape == FULL:
            states.update(row[_STATE_AT] for row in run.rows)
        else:  # bare and plain rows are pending
            states[IMPORTED.value] += len(run.rows[0]) if run.shape == BARE else len(run.rows)
        yield run


class JobsLedger:
    """The job side of the ledger (see :class:`batchqueue.ledger.store.Ledger`)."""

    engine: Engine

    def _insert_rows(self, conn: Connection, job_id: int, runs: Iterable[RowRun]) -> None:
        """Insert a job's rows inside the import's transaction (each backend does it its fastest way)."""
        raise NotImplementedError

    def find_job(self, *, sha256: str, survey_id: str, instance_id: str, fingerprint: str) -> Job | None:
        """The newest job made from the same file, survey, instance and effective mapping."""
        query = (
            select(jobs)
            .where(
                jobs.c.source_sha256 == sha256,
                jobs.c.survey_id == survey_id,
                jobs.c.instance_id == instance_id,
                jobs.c.fingerprint == fingerprint,
                jobs.c.deleted_at.is_(None),
            )
            .order_by(jobs.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            record = conn.execute(query).first()
        return _job(record) if record else None

    def create_job(
        self,
        job_values: dict[str, Any],
        runs: Iterable[RowRun],
        late_values: Callable[[], dict[str, Any]] | None = None,
        *,
        phone_column: str = "phone",
    ) -> int:
        """Insert a job and all its rows in ONE transaction: a crash leaves no half job behind.

        ``late_values`` gives job fields known only once the rows are read (e.g. blank rows). Rows
        whose number is on a do-not-call list, was claimed by a job made from the same file (unless
        ``recontact_after`` is off), or (with the job option ``recontact_after``) was claimed by
        another job within that period, are ``suppressed`` in the same transaction (their reason
        names ``phone_column``).
        """
        with write(self.engine) as conn:
            return self._create_job(conn, job_values, runs, late_values, phone_column=phone_column)

    def _create_job(
        self,
        conn: Connection,
        job_values: dict[str, Any],
        runs: Iterable[RowRun],
        late_values: Callable[[], dict[str, Any]] | None = None,
        *,
        phone_column: str,
    ) -> int:
        """:meth:`create_job` inside a write transaction the caller holds (``recycle``'s)."""
        job_id = int(conn.execute(insert(jobs).values(**job_values).returning(jobs.c.id)).scalar_one())
        states: Counter[str] = Counter()
        self._insert_rows(conn, job_id, _counted(runs, states))
        add_tallies(conn, job_id, states)  # the triggers tally every later change, not inserts
        suppress_imported(conn, job_id, phone_column, time.time())
        options = json.loads(job_values.get("options") or "{}")
        rules = ContactRules.of(job_id, options).with_relatives(conn, job_id)
        within: Counter[int] = Counter()
        if rules.period:
            within = suppress_recontacts_at_import(conn, job_id, phone_column, rules.period, time.time(), rules.family)
        same_file = suppress_same_file_at_import(conn, job_id, phone_column, rules.relatives, time.time())
        for cap in rules.caps.job:
            suppress_over_limit_at_import(conn, job_id, phone_column, cap, time.time())
        later = late_values() if late_values is not None else {}
        if within or same_file or RECONTACTED in options:  # kept with the job (a wave's parent's is not its own)
            options.pop(RECONTACTED, None)
            if within or same_file:  # its import says (and its page) whose calls suppressed its rows
                options[RECONTACTED] = {
                    kind: {str(j): n for j, n in sorted(found.items())}
                    for kind, found in (("within", within), ("same_file", same_file))
                }
            later["options"] = json.dumps(options)
        if later:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**later))
        return job_id

    def jobs_of_file(self, *, sha256: str, survey_id: str, instance_id: str) -> list[Job]:
        """The jobs imported from the same file (its bytes) for the same survey and instance, oldest
        first (waves left out: they are made by ``recycle``, not imported; deleted jobs too: they hold
        no rows)."""
        query = (
            select(jobs)
            .where(
                jobs.c.source_sha256 == sha256,
                jobs.c.survey_id == survey_id,
                jobs.c.instance_id == instance_id,
                jobs.c.deleted_at.is_(None),
            )
            .order_by(jobs.c.id)
        )
        with self.engine.connect() as conn:
            found = [_job(r) for r in conn.execute(query)]
        return [j for j in found if "parent_job_id" not in j.options]

    def overlaps(self, job_id: int) -> list[Overlap]:
        """The other jobs made from the same file for the same survey and instance (a re-import under
        another mapping), each with the numbers it shares with this job and this job's rows
        suppressed because it called them; oldest first, those sharing no number left out."""
        with self.engine.connect() as conn:
            rules = job_contact_rules(conn, job_id)
            shared = shared_numbers(conn, job_id, same_file_jobs(conn, job_id, rules.family))
            return [Overlap(j, n, suppressed_because_of(conn, job_id, j)) for j, n in shared.items()]

    def job(self, job_id: int) -> Job:
        """The job with this id, or :class:`JobNotFoundError`."""
        with self.engine.connect() as conn:
            record = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if record is None:
            raise JobNotFoundError(f"no job {job_id} in this ledger (see `batchqueue status` for the list)")
        if record.deleted_at is not None:
            deleted = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.deleted_at))
            raise JobNotFoundError(f"job {job_id} ({record.source_name}) was deleted on {deleted}")
        return _job(record)

    def set_job_option(self, job_id: int, key: str, value: Any) -> None:
        """Store one job option (e.g. the public URL callbacks are built on)."""
        with write(self.engine) as conn:
            raw = conn.execute(select(jobs.c.options).where(jobs.c.id == job_id)).scalar()
            options = json.loads(raw or "{}")
            options[key] = value
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(options=json.dumps(options)))

    def jobs(self) -> list[Job]:
        """Every job, oldest first."""
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(select(jobs).where(jobs.c.deleted_at.is_(None)).order_by(jobs.c.id))]
