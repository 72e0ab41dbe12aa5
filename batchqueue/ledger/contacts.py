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
from dataclasses import dataclass
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
#: The job option that holds ``--max-contacts``: [count, seconds].
MAX_OPTION = "max_contacts"


@dataclass(frozen=True)
class ContactRules:
    """A job's limits on calling a number other calls reached: ``--recontact-after`` (seconds),
    ``--max-contacts`` (a count per seconds), and its family (the job and its earlier waves,
    whose calls never count against the re-contact limit)."""

    period: int | None = None
    max_contacts: tuple[int, int] | None = None
    family: tuple[int, ...] = ()

    @classmethod
    def of(cls, job_id: int, options: dict[str, Any]) -> ContactRules:
        """The rules stored in a job's options."""
        value = options.get(OPTION)
        most = options.get(MAX_OPTION)
        return cls(
            int(value) if value else None,
            (int(most[0]), int(most[1])) if most else None,
            (job_id, *(int(i) for i in options.get("family", []))),
        )


def job_contact_rules(conn: Connection, job_id: int) -> ContactRules:
    """The job's contact rules, as stored with it."""
    raw = conn.execute(select(jobs.c.options).where(jobs.c.id == job_id)).scalar()
    return ContactRules.of(job_id, json.loads(raw or "{}"))


def _reason(phone_column: str, job_id: int, row_number: int, at: float, period: int) -> str:
    day = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    why = f"recontact: contacted by job {job_id} (row {row_number}) on {day}, within {period_text(period)}"
    return json.dumps([[phone_column, why]], ensure_ascii=False, separators=(",", ":"))


def suppress_recontacts_at_import(
    conn: Connection, job_id: int, phone_column: str, period: int, now: float, family: tuple[int, ...] = ()
) -> int:
    """Inside an import's transaction: pending rows whose number another job (not of ``family``, its
    earlier waves) claimed within ``period`` become ``suppressed``; returns how many."""
    mark = placeholder(conn)
    mine = (job_id, *family)
    found = conn.exec_driver_sql(
        f"SELECT rows.id, m.job_id, m.row_number, m.contacted_at FROM rows JOIN contact_marks m ON m.e164 = rows.e164 "
        f"WHERE rows.job_id = {mark} AND rows.state = '{_PENDING}' AND m.job_id NOT IN {in_list(conn, len(mine))} "
        f"AND m.contacted_at >= {mark}",
        (job_id, *mine, now - period),
    ).all()
    suppress_rows(conn, [(rid, _reason(phone_column, j, n, at, period)) for rid, j, n, at in found], now)
    return len(found)


def mark_contacts(
    conn: Connection, job_id: int, candidates: list[Claimed], stamp: float, rules: ContactRules, phone_column: str
) -> set[int]:
    """Inside a claim's transaction: mark the candidates' numbers as contacted by this job now and
    log the contact; with ``rules.period``, a number another job (not this one, nor one of its
    earlier waves) marked within it is not marked again, and with ``rules.max_contacts`` a number
    logged that many times within its period is not called: their rows become ``suppressed``.
    Returns the row ids that must not be claimed.

    The mark is written first: it locks the number's row until the claim commits, so a concurrent
    claim of the same number (another PostgreSQL worker) waits, then sees this one's mark and log.
    A number refused by ``max_contacts`` keeps that mark (the rule errs on the side of not calling).
    """
    period, family = rules.period, rules.family
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
        mine = family or (job_id,)
        condition = f" WHERE contact_marks.job_id IN {in_list(conn, len(mine))} OR contact_marks.contacted_at < {mark}"
        params = [*mine, stamp - period]
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
    if rules.max_contacts is not None:
        allowed = [e for e in first if first[e].row_id not in barred]
        barred |= _over_the_limit(conn, allowed, first, stamp, rules.max_contacts, phone_column)
    logged = [e for e in sorted(first) if first[e].row_id not in barred]
    if logged:
        values = []
        for e164 in logged:
            values += [e164, job_id, stamp]
        conn.exec_driver_sql(
            f"INSERT INTO contact_log (e164, job_id, contacted_at) VALUES {multi_values(conn, 3, len(logged))}",
            tuple(values),
        )
    suppress_rows(conn, list(barred.items()), stamp)
    return set(barred)


def _over_the_limit(
    conn: Connection, numbers: list[str], first: dict[str, Claimed], stamp: float, limit: tuple[int, int], column: str
) -> dict[int, str]:
    """The rows whose number was logged ``limit[0]`` times within ``limit[1]`` seconds, with the reason."""
    if not numbers:
        return {}
    count, period = limit
    mark = placeholder(conn)
    found = conn.exec_driver_sql(
        f"SELECT e164, COUNT(*), MAX(contacted_at) FROM contact_log WHERE e164 IN {in_list(conn, len(numbers))} "
        f"AND contacted_at >= {mark} GROUP BY e164 HAVING COUNT(*) >= {mark}",
        (*sorted(numbers), stamp - period, count),
    ).all()
    return {first[e164].row_id: _limit_reason(column, n, last, limit) for e164, n, last in found}


def _limit_reason(phone_column: str, calls: int, last: float, limit: tuple[int, int]) -> str:
    day = dt.datetime.fromtimestamp(last, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    why = f"max-contacts: called {calls} times within {period_text(limit[1])} (at most {limit[0]}), last on {day}"
    return json.dumps([[phone_column, why]], ensure_ascii=False, separators=(",", ":"))


def suppress_over_limit_at_import(
    conn: Connection, job_id: int, phone_column: str, limit: tuple[int, int], now: float
) -> int:
    """Inside an import's transaction: pending rows whose number was called ``limit[0]`` times within
    ``limit[1]`` seconds become ``suppressed``; returns how many."""
    mark = placeholder(conn)
    found = conn.exec_driver_sql(
        f"SELECT rows.id, COUNT(*), MAX(l.contacted_at) FROM rows JOIN contact_log l ON l.e164 = rows.e164 "
        f"WHERE rows.job_id = {mark} AND rows.state = '{_PENDING}' AND l.contacted_at >= {mark} "
        f"GROUP BY rows.id HAVING COUNT(*) >= {mark}",
        (job_id, now - limit[1], limit[0]),
    ).all()
    suppress_rows(conn, [(rid, _limit_reason(phone_column, n, last, limit)) for rid, n, last in found], now)
    return len(found)
