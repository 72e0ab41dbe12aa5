"""Re-contact limits across jobs: when each number was last claimed for sending, by which job.

Every claim, of every job, marks its numbers in ``contact_marks`` (one row per number) and logs
them in ``contact_log`` (every claim, with its job and row) inside the claim transaction. Two rules
read them, at import and again in each claim; a row they refuse becomes ``suppressed``:

- ``--recontact-after``: a number another job (not of the job's family, its earlier waves) marked
  within the period;
- jobs made from the same file (:mod:`batchqueue.ledger.reimports`, a re-import under another
  mapping): a number such a job ever claimed, either way round, unless the job was imported with
  ``--recontact-after 0``. The log finds such a claim even when a third job claimed the number
  since.

A number counts as contacted until the last moment its calls may be placed (``last_call_at``: the
request's end, or its last re-attempt), not only when it was claimed. The caps (the job's
``--max-contacts``, each state's) are counted in :mod:`batchqueue.ledger.caps`, once the mark is taken.

The mark is an upsert whose update is conditional, so two claims of the same number by two jobs —
two PostgreSQL workers at the same moment — are serialised on that number's row: the second sees
the first's mark and suppresses its row (the log is read again once the mark is held, for the
claims of jobs of the same file). A number is marked when it is claimed (about to be sent), so a
row whose request may have left (queued, uncertain) counts as contacted: the rule errs on the side
of not calling. A claim that placed no call — its request never left (released, not accepted, never
sent) or Insight refused it — gives its log entry and its mark back when it is settled
(:func:`release_contacts`), so it counts toward no cap and bars no other job. Rows sent before the
log existed are logged and marked by migration 0018.

Usage::

    contacted = mark_contacts(conn, job_id, chosen, stamp, rules.with_relatives(conn, job_id), phone_column="phone")
    contacted.sent       # the rows to send (attempts cut where a cap says)
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, select

from batchqueue.ledger.batchsql import in_list, multi_values, placeholder
from batchqueue.ledger.caps import CapDecision, CapRules, apply_caps, claim_states, hold_rows, span
from batchqueue.ledger.records import Claimed
from batchqueue.ledger.reimports import same_file_jobs
from batchqueue.ledger.schema import jobs
from batchqueue.ledger.suppress import SUPPRESSIBLE, suppress_rows
from batchqueue.lifecycle import RowState
from batchqueue.periods import OFF, period_text

#: The job option that holds the period, in seconds (:data:`OFF`: every re-contact rule is off).
OPTION = "recontact_after"


@dataclass(frozen=True)
class ContactRules:
    """A job's limits on calling a number other calls reached: ``--recontact-after`` (seconds),
    its caps (the job's ``--max-contacts``, the states'), its family (the job and its earlier waves,
    whose calls never count against the re-contact limit), and whether the claims of jobs made from
    the same file bar its numbers (``relatives``: those jobs, found where the rule is applied)."""

    period: int | None = None
    caps: CapRules = field(default_factory=CapRules)
    family: tuple[int, ...] = ()
    same_file: bool = True
    relatives: tuple[int, ...] = ()

    @classmethod
    def of(cls, job_id: int, options: dict[str, Any]) -> ContactRules:
        """The rules stored in a job's options."""
        value = options.get(OPTION)
        return cls(
            int(value) if value else None,
            CapRules.of(options),
            (job_id, *(int(i) for i in options.get("family", []))),
            same_file=value != OFF,
        )

    def with_relatives(self, conn: Connection, job_id: int) -> ContactRules:
        """These rules with the jobs of the same file as they are now (a re-import may come at any time)."""
        if not self.same_file:
            return self
        return replace(self, relatives=same_file_jobs(conn, job_id, self.family))


def job_contact_rules(conn: Connection, job_id: int) -> ContactRules:
    """The job's contact rules, as stored with it (without its relatives: see :meth:`ContactRules.with_relatives`)."""
    raw = conn.execute(select(jobs.c.options).where(jobs.c.id == job_id)).scalar()
    return ContactRules.of(job_id, json.loads(raw or "{}"))


@functools.lru_cache(maxsize=4096)
def _minute(at: float) -> str:
    # One claim gives many numbers the same time: a re-import of a large file formats it once.
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _reason(phone_column: str, job_id: int, row_number: int | None, at: float, period: int | None) -> str:
    """Why a row is suppressed: the earlier claim, and the rule it breaks (a period; None: a job of the same file)."""
    day = _minute(at)
    rule = f"within {period_text(period)}" if period is not None else "a job of the same file"
    row = row_number if row_number is not None else "?"
    # Only the column name needs JSON's escaping: the rest is ASCII made here (a re-import of a
    # large file writes this for every row).
    return f'[[{_json_text(phone_column)},"recontact: contacted by job {job_id} (row {row}) on {day}, {rule}"]]'


@functools.lru_cache(maxsize=64)
def _json_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def suppress_recontacts_at_import(
    conn: Connection, job_id: int, phone_column: str, period: int, now: float, family: tuple[int, ...] = ()
) -> Counter[int]:
    """Inside an import's transaction: pending rows whose number another job (not of ``family``, its
    earlier waves) contacted within ``period`` become ``suppressed``; returns how many, by that job."""
    mark = placeholder(conn)
    mine = (job_id, *family)
    found = conn.exec_driver_sql(
        f"SELECT rows.id, m.job_id, m.row_number, m.contacted_at FROM rows JOIN contact_marks m ON m.e164 = rows.e164 "
        f"WHERE rows.job_id = {mark} AND rows.state IN {SUPPRESSIBLE} AND m.job_id NOT IN {in_list(conn, len(mine))} "
        f"AND COALESCE(m.last_call_at, m.contacted_at) >= {mark}",
        (job_id, *mine, now - period),
    ).all()
    suppress_rows(conn, [(rid, _reason(phone_column, j, n, at, period)) for rid, j, n, at in found], now)
    return Counter(int(j) for _, j, _, _ in found)


def suppress_same_file_at_import(
    conn: Connection, job_id: int, phone_column: str, relatives: tuple[int, ...], now: float
) -> Counter[int]:
    """Inside an import's transaction: pending rows whose number a job of the same file
    (``relatives``) ever claimed become ``suppressed``; returns how many, by that job (its latest claim)."""
    if not relatives:
        return Counter()
    found = conn.exec_driver_sql(
        "SELECT rows.id, l.job_id, l.row_number, l.contacted_at FROM rows JOIN contact_log l ON l.e164 = rows.e164 "
        f"WHERE rows.job_id = {placeholder(conn)} AND rows.state IN {SUPPRESSIBLE} "
        f"AND l.job_id IN {in_list(conn, len(relatives))}",
        (job_id, *relatives),
    ).all()
    latest: dict[int, tuple[int, int | None, float]] = {}
    for rid, j, n, at in found:
        if rid not in latest or at > latest[rid][2]:
            latest[rid] = (j, n, at)
    suppress_rows(conn, [(rid, _reason(phone_column, j, n, at, None)) for rid, (j, n, at) in latest.items()], now)
    return Counter(int(j) for j, _, _ in latest.values())


def suppressed_because_of(conn: Connection, job_id: int, other: int) -> int:
    """The job's rows suppressed because job ``other`` contacted their number (either rule)."""
    mark = placeholder(conn)
    return int(
        conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM rows WHERE job_id = {mark} AND state = '{RowState.SUPPRESSED.value}' "
            f"AND reasons LIKE {mark}",
            (job_id, f'%"recontact: contacted by job {int(other)} (row %'),
        ).scalar_one()
    )


def _claimed_by(conn: Connection, numbers: Iterable[str], relatives: tuple[int, ...], column: str) -> dict[str, str]:
    """The numbers a job of the same file (``relatives``) ever claimed, with the reason (its latest claim)."""
    wanted = sorted(numbers)
    if not wanted or not relatives:
        return {}
    found = conn.exec_driver_sql(
        f"SELECT e164, job_id, row_number, contacted_at FROM contact_log WHERE e164 IN {in_list(conn, len(wanted))} "
        f"AND job_id IN {in_list(conn, len(relatives))} ORDER BY contacted_at",
        (*wanted, *relatives),
    ).all()
    return {e164: _reason(column, j, n, at, None) for e164, j, n, at in found}  # the latest claim wins


@dataclass
class Contacted:
    """What :func:`mark_contacts` decided for a claim's rows."""

    #: The rows to send, in order (a cap may have cut a row's ``max_attempts``).
    sent: list[Claimed]
    #: Rows suppressed (a re-contact rule, the job's own cap), and rows held until a state's cap frees.
    suppressed: set[int]
    held: set[int]
    #: Those of ``suppressed`` the job's own cap (max-contacts) refused; the rest, re-contact protection.
    capped: set[int] = field(default_factory=set)


def mark_contacts(
    conn: Connection,
    job_id: int,
    candidates: list[Claimed],
    stamp: float,
    rules: ContactRules,
    phone_column: str,
    placed: dict[int, str | None] | None = None,
) -> Contacted:
    """Inside a claim's transaction: mark the candidates' numbers as contacted by this job now and
    log the contact, but for numbers a rule refuses (their rows become ``suppressed``): with
    ``rules.period``, a number another job (not this one, nor one of its earlier waves) marked
    within it; with ``rules.relatives``, a number one of those jobs (of the same file) ever claimed.
    Then the caps (:mod:`batchqueue.ledger.caps`): a row is sent with the attempts its caps leave,
    suppressed when the job's own cap is used up, held when a state's is. Each sent row's log entry
    keeps the states it was decided under (:func:`~batchqueue.ledger.caps.claim_states`; ``placed``:
    the states its calling window was set for, by row id), so that their caps hold for later claims
    of the number by any job.

    The mark is written first: it locks the number's row until the claim commits, so a concurrent
    claim of the same number (another PostgreSQL worker) waits, then sees this one's mark and log.
    A number refused once its mark is taken (a cap, or a same-file claim that committed while this
    one waited) keeps that mark: the rule errs on the side of not calling.
    """
    period, relatives = rules.period, rules.relatives
    rows_of: dict[str, list[Claimed]] = {}
    barred: dict[int, str] = {}
    for c in candidates:
        if not c.e164:
            continue
        same = rows_of.setdefault(c.e164, [])
        if same and period is not None:  # the same number twice in one job (--allow-duplicates)
            barred[c.row_id] = _reason(phone_column, job_id, same[0].row_number, stamp, period)
        same.append(c)

    def bar(found: dict[str, str]) -> None:
        for e164, why in found.items():
            for c in rows_of[e164]:
                barred[c.row_id] = why

    bar(_claimed_by(conn, rows_of, relatives, phone_column))  # before the mark: it stays the true last claim
    numbers = [e for e in sorted(rows_of) if rows_of[e][0].row_id not in barred]
    taken = _mark(conn, job_id, numbers, rows_of, stamp, rules)
    refused = sorted(set(numbers) - taken)
    if refused:
        earlier_marks = conn.exec_driver_sql(
            "SELECT e164, job_id, row_number, contacted_at FROM contact_marks "
            f"WHERE e164 IN {in_list(conn, len(refused))}",
            tuple(refused),
        ).all()
        bar({e: _reason(phone_column, j, n, at, None if j in relatives else period) for e, j, n, at in earlier_marks})
    # A claim of a job of the same file that committed while this one waited for the mark.
    bar(_claimed_by(conn, taken, relatives, phone_column))
    decided = CapDecision()
    capped: set[int] = set()
    if rules.caps:
        allowed = {e: [c for c in rows_of[e] if c.row_id not in barred] for e in numbers if e in taken}
        decided = apply_caps(conn, {e: rows for e, rows in allowed.items() if rows}, stamp, rules.caps, phone_column)
        capped = set(decided.suppressed) - set(barred)
        barred |= decided.suppressed
    held, cut = decided.held, decided.attempts
    sent = [
        c if c.row_id not in cut else c._replace(max_attempts=cut[c.row_id])
        for c in candidates
        if c.row_id not in barred and c.row_id not in held
    ]
    where = placed or {}
    states = {c.row_id: claim_states(rules.caps, c, decided, where.get(c.row_id)) for c in sent if c.e164}
    _log(conn, job_id, [c for c in sent if c.e164], stamp, states)
    suppress_rows(conn, list(barred.items()), stamp)
    hold_rows(conn, held)
    return Contacted(sent, set(barred), set(held), capped)


def _log(conn: Connection, job_id: int, sent: list[Claimed], stamp: float, states: dict[int, str | None]) -> None:
    """One log entry per row sent: its number, the calls Insight may place for it, until when, and
    the states it was decided under."""
    for start in range(0, len(sent), 500):
        batch = sent[start : start + 500]
        values: list[Any] = []
        for c in batch:
            values += [c.e164, job_id, c.row_number, stamp, c.max_attempts or 1, span(c, stamp)[1], states[c.row_id]]
        conn.exec_driver_sql(
            "INSERT INTO contact_log (e164, job_id, row_number, contacted_at, calls, last_call_at, states) "
            f"VALUES {multi_values(conn, 7, len(batch))}",
            tuple(values),
        )


def _mark(
    conn: Connection,
    job_id: int,
    numbers: list[str],
    rows_of: dict[str, list[Claimed]],
    stamp: float,
    rules: ContactRules,
) -> set[str]:
    """Upsert the marks of ``numbers`` (sorted: every claim locks numbers in one order, so two claims
    never deadlock); returns those marked, leaving a mark that ``rules`` says must stand."""
    if not numbers:
        return set()
    mark = placeholder(conn)
    values: list[Any] = []
    for e164 in numbers:
        last = max(span(c, stamp)[1] for c in rows_of[e164])
        values += [e164, job_id, rows_of[e164][0].row_number, stamp, last]
    conditions: list[str] = []
    params: list[Any] = []
    if rules.relatives:
        conditions.append(f"contact_marks.job_id NOT IN {in_list(conn, len(rules.relatives))}")
        params += rules.relatives
    if rules.period is not None:
        mine = rules.family or (job_id,)
        conditions.append(
            f"(contact_marks.job_id IN {in_list(conn, len(mine))} "
            f"OR COALESCE(contact_marks.last_call_at, contact_marks.contacted_at) < {mark})"
        )
        params += [*mine, stamp - rules.period]
    condition = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    taken = conn.exec_driver_sql(
        "INSERT INTO contact_marks (e164, job_id, row_number, contacted_at, last_call_at) "
        f"VALUES {multi_values(conn, 5, len(numbers))} "
        "ON CONFLICT (e164) DO UPDATE SET job_id = excluded.job_id, row_number = excluded.row_number, "
        f"contacted_at = excluded.contacted_at, last_call_at = excluded.last_call_at{condition} RETURNING e164",
        tuple(values + params),
    ).all()
    return {e164 for (e164,) in taken}


def release_contacts(conn: Connection, row_ids: Iterable[int]) -> int:
    """Inside a settlement's transaction: rows whose claim placed no call — its request never left
    (released, not accepted, never sent) or Insight refused it (no call queued) — give back what that
    claim wrote: its log entry (the row's latest: a row is claimed once at a time, so its latest entry
    is this claim's), so that no cap counts its calls, and its number's mark when this claim wrote it
    (the mark goes back to the number's latest remaining logged claim, or goes). Returns the entries
    removed."""
    ids = sorted(set(row_ids))
    if not ids:
        return 0
    mark = placeholder(conn)
    removed = 0
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        claims = conn.exec_driver_sql(
            "SELECT l.id, l.e164, l.job_id, l.contacted_at FROM rows r JOIN contact_log l ON l.id = ("
            "SELECT MAX(x.id) FROM contact_log x WHERE x.e164 = r.e164 AND x.job_id = r.job_id "
            f"AND x.row_number = r.row_number) WHERE r.id IN {in_list(conn, len(batch))} AND r.e164 IS NOT NULL",
            tuple(batch),
        ).all()
        if not claims:
            continue
        conn.exec_driver_sql(
            f"DELETE FROM contact_log WHERE id IN {in_list(conn, len(claims))}", tuple(c[0] for c in claims)
        )
        removed += len(claims)
        for e164 in sorted({c[1] for c in claims}):  # one order: two settlements never deadlock
            written = {(job, at) for _, number, job, at in claims if number == e164}
            current = conn.exec_driver_sql(
                f"SELECT job_id, contacted_at FROM contact_marks WHERE e164 = {mark}", (e164,)
            ).first()
            if current is None or (current[0], current[1]) not in written:
                continue  # another claim marked it since (or a cap's refusal kept an earlier mark): it stands
            conn.exec_driver_sql(f"DELETE FROM contact_marks WHERE e164 = {mark}", (e164,))
            conn.exec_driver_sql(
                "INSERT INTO contact_marks (e164, job_id, row_number, contacted_at, last_call_at) "
                "SELECT e164, job_id, COALESCE(row_number, 0), contacted_at, last_call_at FROM contact_log "
                f"WHERE e164 = {mark} ORDER BY contacted_at DESC, id DESC LIMIT 1",
                (e164,),
            )
    return removed


def relog_contacts(conn: Connection, row_ids: Iterable[int], stamp: float) -> int:
    """Inside the transaction that makes rows ``queued`` (a reply accepted, a callback proving the
        call): a row whose claim's history was given back (:func:`release_contacts`: its request looked
        refused or never sent) gets it again, so a call that did happen still counts for re-contact
        protection and every cap (with the states of its calling window, ``rows.sent_states``: the claim's
    own entry, with every state it was decided under, is gone). Rows that kept their entry are left as
    they are. Returns entries added."""
    ids = sorted(set(row_ids))
    if not ids:
        return 0
    mark = placeholder(conn)
    added = 0
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        chosen = (
            f"FROM rows r WHERE r.id IN {in_list(conn, len(batch))} AND r.e164 IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM contact_log x WHERE x.e164 = r.e164 AND x.job_id = r.job_id "
            "AND x.row_number = r.row_number)"
        )
        missing = conn.exec_driver_sql(
            "SELECT r.e164, r.job_id, r.row_number, COALESCE(r.max_attempts, 1), r.sent_end_ts, r.sent_states "
            + chosen,
            tuple(batch),
        ).all()
        if not missing:
            continue
        conn.exec_driver_sql(
            "INSERT INTO contact_log (e164, job_id, contacted_at, row_number, calls, states) VALUES "
            + ", ".join([f"({mark}, {mark}, {mark}, {mark}, {mark}, {mark})"] * len(missing)),
            tuple(
                v for e164, job, number, calls, _, states in missing for v in (e164, job, stamp, number, calls, states)
            ),
        )
        added += len(missing)
        for e164, job, number, _, end, _ in sorted(missing):  # one order: two transactions never deadlock
            last = float(end) if end is not None else stamp
            current = conn.exec_driver_sql(
                f"SELECT contacted_at FROM contact_marks WHERE e164 = {mark}", (e164,)
            ).first()
            if current is None:
                conn.exec_driver_sql(
                    "INSERT INTO contact_marks (e164, job_id, row_number, contacted_at, last_call_at) "
                    f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
                    (e164, job, number, stamp, last),
                )
            elif float(current[0]) <= stamp:
                conn.exec_driver_sql(
                    f"UPDATE contact_marks SET job_id = {mark}, row_number = {mark}, contacted_at = {mark}, "
                    f"last_call_at = {mark} WHERE e164 = {mark}",
                    (job, number, stamp, last, e164),
                )
    return added
