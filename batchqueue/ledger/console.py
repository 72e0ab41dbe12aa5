"""What the web console keeps and reads: its users (and their session versions), its audit trail,
and a job's problem rows.

Every query here is bounded: a page of rows (``LIMIT``), or a count that stops at ``cap`` rows, so
a job page costs the same for ten rows as for a million.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, or_, select, update

from batchqueue import lifecycle
from batchqueue.ledger.database import write
from batchqueue.ledger.schema import audit_events, console_users, rows
from batchqueue.lifecycle import RowState

#: The states a row has a problem in: the console's problems table and its failure chart.
PROBLEM_STATES = tuple(s.value for s in RowState if s in lifecycle.PROBLEM_STATES)
#: The failure chart reads the errors of at most this many failed rows (the first, in file order).
FAILURE_SAMPLE = 2_000


@dataclass(frozen=True)
class ConsoleUser:
    """A user of the console (never its password or hash)."""

    name: str
    created_at: float


@dataclass(frozen=True)
class Credentials:
    """What a login checks: the password's hash, and the version its session will carry."""

    password_hash: str
    session_version: int


@dataclass(frozen=True)
class AuditEvent:
    """Who did what, when (``detail`` never holds a secret)."""

    at: float
    user: str
    action: str
    job_id: int | None
    detail: str


@dataclass(frozen=True)
class ProblemRow:
    """A row of a job that did not go through, and why."""

    row_number: int
    state: str
    phone: str
    reason: str
    http_status: int | None


def _reason(state: str, reasons: str | None, error: str | None) -> str:
    if reasons:
        return "; ".join(f"{column}: {why}" if column else why for column, why in json.loads(reasons))
    return error or ("may or may not have been queued" if state == RowState.UNCERTAIN.value else "")


class ConsoleLedger:
    """The console's side of the ledger (see :class:`batchqueue.ledger.Ledger`)."""

    engine: Engine

    def put_user(self, name: str, password_hash: str) -> bool:
        """Create the user, or replace its password hash (which ends its sessions); True when it is new."""
        with write(self.engine) as conn:
            moved = conn.execute(
                update(console_users)
                .where(console_users.c.name == name)
                .values(password_hash=password_hash, session_version=console_users.c.session_version + 1)
            ).rowcount
            if not moved:
                conn.execute(
                    insert(console_users).values(name=name, password_hash=password_hash, created_at=time.time())
                )
        return not moved

    def password_hash(self, name: str) -> str | None:
        found = self.credentials(name)
        return None if found is None else found.password_hash

    def credentials(self, name: str) -> Credentials | None:
        query = select(console_users.c.password_hash, console_users.c.session_version).where(
            console_users.c.name == name
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).first()
        return None if found is None else Credentials(str(found.password_hash), int(found.session_version))

    def session_version(self, name: str) -> int | None:
        """The version a live session of ``name`` carries (None when there is no such user)."""
        query = select(console_users.c.session_version).where(console_users.c.name == name)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def end_sessions(self, name: str) -> bool:
        """Every session of ``name`` ends (its version moves on); False when there is no such user."""
        with write(self.engine) as conn:
            moved = conn.execute(
                update(console_users)
                .where(console_users.c.name == name)
                .values(session_version=console_users.c.session_version + 1)
            ).rowcount
        return bool(moved)

    def remove_user(self, name: str) -> bool:
        """The user is gone (and so are its sessions); False when there was none."""
        with write(self.engine) as conn:
            return bool(conn.execute(delete(console_users).where(console_users.c.name == name)).rowcount)

    def users(self) -> list[ConsoleUser]:
        query = select(console_users.c.name, console_users.c.created_at).order_by(console_users.c.name)
        with self.engine.connect() as conn:
            return [ConsoleUser(str(r.name), float(r.created_at)) for r in conn.execute(query)]

    def audit(self, user: str, action: str, job_id: int | None, detail: str) -> None:
        with write(self.engine) as conn:
            conn.execute(
                insert(audit_events).values(at=time.time(), user_name=user, action=action, job_id=job_id, detail=detail)
            )

    def audit_trail(self, job_id: int | None = None, limit: int = 50) -> list[AuditEvent]:
        """The newest events first (of one job, when given)."""
        query = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
        if job_id is not None:
            query = query.where(audit_events.c.job_id == job_id)
        with self.engine.connect() as conn:
            return [AuditEvent(e.at, e.user_name, e.action, e.job_id, e.detail) for e in conn.execute(query)]

    def problem_rows(
        self, job_id: int, *, state: str | None = None, contains: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ProblemRow]:
        """A page of the job's invalid, failed and uncertain rows in file order (one state, text in
        the reason). Each state is read in its own index range (rows.id follows the file's order
        within a job), so a page costs the same for a job of a million rows."""
        states = [state] if state in PROBLEM_STATES else list(PROBLEM_STATES)
        columns = (
            rows.c.id,
            rows.c.row_number,
            rows.c.state,
            rows.c.e164,
            rows.c.reasons,
            rows.c.error,
            rows.c.http_status,
        )
        found = []
        with self.engine.connect() as conn:
            for one in states:
                query = (
                    select(*columns)
                    .where(rows.c.job_id == job_id, rows.c.state == one)
                    .order_by(rows.c.id)
                    .limit(offset + limit)
                )
                if contains:
                    pattern = "%" + contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                    query = query.where(
                        or_(rows.c.reasons.ilike(pattern, escape="\\"), rows.c.error.ilike(pattern, escape="\\"))
                    )
                found += list(conn.execute(query))
        found.sort(key=lambda r: r.id)
        return [
            ProblemRow(r.row_number, r.state, r.e164 or "", _reason(r.state, r.reasons, r.error), r.http_status)
            for r in found[offset : offset + limit]
        ]

    def failure_reasons(
        self, job_id: int, *, cap: int = FAILURE_SAMPLE, top: int = 8
    ) -> tuple[list[tuple[str, int]], bool]:
        """The commonest errors of the job's failed rows, among at most ``cap`` of them; and whether
        there were more failed rows than that."""
        failed = (
            select(rows.c.error)
            .where(rows.c.job_id == job_id, rows.c.state == RowState.FAILED.value)
            .limit(cap + 1)
            .subquery()
        )
        query = select(failed.c.error, func.count()).group_by(failed.c.error).order_by(func.count().desc())
        with self.engine.connect() as conn:
            found = [(str(error or "(no error text)"), int(n)) for error, n in conn.execute(query)]
        seen = sum(n for _, n in found)
        return found[:top], seen > cap
