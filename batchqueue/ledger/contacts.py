"""Re-contact limits across jobs: when each number was last claimed for sending, by which job.

Every claim, of every job, marks its numbers in ``contact_marks`` (one row per number) inside the
claim transaction. A job imported with ``--recontact-after`` refuses a number another job marked
within that period: its row becomes ``suppressed`` (at import, and again in each claim). The mark
is an upsert whose update is conditional, so two claims of the same number by two jobs — two
PostgreSQL workers at the same moment — are serialised on that number's row: the second sees the
first's mark and suppresses its row. A number is marked when it is claimed (about to be sent), so a
row that then fails still counts as contacted: the rule errs on the side of not calling.

Usage::

    barred = mark_contacts(conn, job_id, chosen, stamp, period=7 * 86400, phone_column="phone")
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, select

from batchqueue.ledger.batchsql import in_list, multi_values, placeholder
from batchqueue.ledger.records import Claimed
from batchqueue.ledger.schema import jobs
from batchqueue.ledger.suppress import suppress_rows
from batchqueue.lifecycle import RowState
from batchqueue.periods import period_text

_PENDING = RowState.PENDING.value
#: The job option that holds the period, in seconds.
OPTION = "recontact_after"


def job_period(conn: Connection, job_id: int) -> int | None:
    """The job's ``--recontact-after`` in seconds, or None."""
    raw = conn.execute(select(jobs.c.options).where(jobs.c.id == job_id)).scalar()
    value = json.loads(raw or "{}").get(OPTION)
    return int(value) if value else None


def _reason(phone_column: str, job_id: int, row_number: int, at: float, period: int) -> str:
    day = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    why = f"recontact: contacted by job {job_id} (row {row_number}) on {day}, within {period_text(period)}"
    return json.dumps([[phone_column, why]], ensure_ascii=False, separators=(",", ":"))


def suppress_recontacts_at_import(conn: Connection, job_id: int, phone_column: str, period: int, now: float) -> int:
    """Inside an import's transaction: pending rows whose number another job claimed within
    ``period`` become ``suppressed``; returns how many."""
    mark = placeholder(conn)
    found = conn.exec_driver_sql(
        f"SELECT rows.id, m.job_id, m.row_number, m.contacted_at FROM rows JOIN contact_marks m ON m.e164 = rows.e164 "
        f"WHERE rows.job_id = {mark} AND rows.state = '{_PENDING}' AND m.job_id <> {mark} AND m.contacted_at >= {mark}",
        (job_id, job_id, now - period),
    ).all()
    suppress_rows(conn, [(rid, _reason(phone_column, j, n, at, period)) for rid, j, n, at in found], now)
    return len(found)


def mark_contacts(
    conn: Connection, job_id: int, candidates: list[Claimed], stamp: float, period: int | None, phone_column: str
) -> set[int]:
    """Inside a claim's transaction: mark the candidates' numbers as contacted by this job now;
    with a ``period``, a number another job marked within it is not marked again, and its row
    becomes ``suppressed``. Returns the row ids that must not be claimed."""
    first: dict[str, Claimed] = {}
    barred: dict[int, str] = {}
    for c in candidates:
        if not c.e164:
            continue
        earlier = first.setdefault(c.e164, c)
        if earlier is not c and period is not None:  # the same number twice in one job (--allow-duplicates)
            barred[c.row_id] = _reason(phone_column, job_id, earlier.row_number, stamp, period)
    if not first:
        return set()
    mark = placeholder(conn)
    values: list[Any] = []
    for e164 in sorted(first):  # every claim locks numbers in one order: two claims never deadlock
        values += [e164, job_id, first[e164].row_number, stamp]
    condition = ""
    params: list[Any] = []
    if period is not None:
        condition = f" WHERE contact_marks.job_id = excluded.job_id OR contact_marks.contacted_at < {mark}"
        params = [stamp - period]
    taken = conn.exec_driver_sql(
        "INSERT INTO contact_marks (e164, job_id, row_number, contacted_at) "
        f"VALUES {multi_values(conn, 4, len(first))} "
        "ON CONFLICT (e164) DO UPDATE SET job_id = excluded.job_id, row_number = excluded.row_number, "
        f"contacted_at = excluded.contacted_at{condition} RETURNING e164",
        tuple(values + params),
    ).all()
    if period is not None and len(taken) < len(first):
        refused = set(first) - {e164 for (e164,) in taken}
        earlier_marks = conn.exec_driver_sql(
            "SELECT e164, job_id, row_number, contacted_at FROM contact_marks "
            f"WHERE e164 IN {in_list(conn, len(refused))}",
            tuple(sorted(refused)),
        ).all()
        for e164, j, n, at in earlier_marks:
            barred[first[e164].row_id] = _reason(phone_column, j, n, at, period)
    suppress_rows(conn, list(barred.items()), stamp)
    return set(barred)
