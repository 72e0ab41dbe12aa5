"""contacts made before the re-contact log: every row that may have called (queued, uncertain, or
left sending) is logged in ``contact_log`` and, where its number has no mark, marked in
``contact_marks``, so that re-contact protection, jobs of the same file and the caps count the calls
made before the ledger was upgraded

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The states in which a row's request may have placed a call (lifecycle: MAY_HAVE_CALLED), and
#: ``sending`` (a run that died: recovery will find it uncertain). Spelled out here: a migration
#: must keep meaning what it meant when it was written.
_MAY_HAVE_CALLED = "('queued', 'uncertain', 'sending')"


def _sent_rows() -> str:
    """Each row that may have called and that no log entry of its job and row records: its number,
    job, row, when it was last sent (its latest attempt; else when it was last updated), the calls
    Insight may place for it (its max_attempts) and the last moment one may be placed (its end, or
    its last re-attempt). One SELECT: the backfill runs as INSERT … SELECT, bounded in memory."""
    return (
        "SELECT r.id, r.e164, r.job_id, r.row_number, "
        "COALESCE((SELECT MAX(a.started_at) FROM attempts a WHERE a.row_id = r.id), r.updated_at, r.created_at) AS at, "
        "COALESCE(r.max_attempts, 1) AS calls, COALESCE(r.sent_end_ts, r.end_ts) AS end_at, "
        "COALESCE(r.reattempt_wait, 0) AS wait "
        "FROM rows r "
        f"WHERE r.e164 IS NOT NULL AND r.state IN {_MAY_HAVE_CALLED} "
        "AND NOT EXISTS (SELECT 1 FROM contact_log l WHERE l.e164 = r.e164 AND l.job_id = r.job_id "
        "AND (l.row_number = r.row_number OR l.row_number IS NULL))"
    )


def upgrade() -> None:
    greatest = "MAX" if op.get_bind().dialect.name == "sqlite" else "GREATEST"
    last = (
        f"CASE WHEN s.end_at IS NOT NULL THEN {greatest}(s.at, s.end_at) "
        "ELSE s.at + (CASE WHEN s.calls > 1 THEN s.calls - 1 ELSE 0 END) * s.wait END"
    )
    # The marks first (the log is what tells the rows already counted): the latest claim of each
    # number that has no mark yet.
    op.execute(
        "INSERT INTO contact_marks (e164, job_id, row_number, contacted_at, last_call_at) "
        f"SELECT e164, job_id, row_number, at, last_at FROM ("
        f"SELECT s.e164, s.job_id, s.row_number, s.at, {last} AS last_at, "
        "ROW_NUMBER() OVER (PARTITION BY s.e164 ORDER BY s.at DESC, s.id DESC) AS n "
        f"FROM ({_sent_rows()}) s) latest "
        "WHERE n = 1 AND NOT EXISTS (SELECT 1 FROM contact_marks m WHERE m.e164 = latest.e164)"
    )
    op.execute(
        "INSERT INTO contact_log (e164, job_id, row_number, contacted_at, calls, last_call_at) "
        f"SELECT s.e164, s.job_id, s.row_number, s.at, s.calls, {last} FROM ({_sent_rows()}) s"
    )


def downgrade() -> None:
    # The backfilled entries are indistinguishable from logged claims, and harmless to an older
    # version (it reads the same tables): nothing to undo.
    pass
