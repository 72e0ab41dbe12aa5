"""each job's rows by state and by outcome, and its requests per minute, kept by triggers (a job's
counts without counting its rows); held rows indexed; the console's users and audit trail; a worker's slow-down cause

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite_bump(job: str, kind: str, value: str, delta: int) -> str:
    """SQLite has one writer at a time: each (job, kind, value) is one row, updated in place."""
    key = f"job_id = {job} AND kind = '{kind}' AND value = {value}"
    return (
        f"INSERT INTO row_tallies (job_id, kind, value, n) SELECT {job}, '{kind}', {value}, 0 "
        f"WHERE {value} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM row_tallies WHERE {key}); "
        f"UPDATE row_tallies SET n = n + ({delta}) WHERE {key};"
    )


_SQLITE_MINUTE = "CAST(CAST({at} / 60 AS INTEGER) * 60 AS TEXT)"

# No trigger on INSERT: the import tallies its rows itself (``ledger/tallies.add_tallies``); a
# trigger per inserted row made an import of 1M rows 60% slower.
SQLITE_TRIGGERS = {
    "tally_rows_state": "AFTER UPDATE OF state ON rows WHEN OLD.state IS NOT NEW.state BEGIN "
    + _sqlite_bump("OLD.job_id", "state", "OLD.state", -1)
    + _sqlite_bump("NEW.job_id", "state", "NEW.state", 1)
    + " END",
    "tally_rows_outcome": "AFTER UPDATE OF outcome_status ON rows "
    "WHEN OLD.outcome_status IS NOT NEW.outcome_status BEGIN "
    + _sqlite_bump("OLD.job_id", "outcome", "OLD.outcome_status", -1)
    + _sqlite_bump("NEW.job_id", "outcome", "NEW.outcome_status", 1)
    + " END",
    "tally_rows_delete": "AFTER DELETE ON rows BEGIN "
    + _sqlite_bump("OLD.job_id", "state", "OLD.state", -1)
    + _sqlite_bump("OLD.job_id", "outcome", "OLD.outcome_status", -1)
    + " END",
    # Requests sent per minute (the minute's unix time): what the console's chart draws.
    "tally_attempts_insert": "AFTER INSERT ON attempts BEGIN "
    + _sqlite_bump("NEW.job_id", "minute", _SQLITE_MINUTE.format(at="NEW.started_at"), 1)
    + " END",
}

# PostgreSQL: many workers write at once, so each statement appends its own aggregated deltas (no
# row is shared, so no lock is waited for and no deadlock is possible); readers sum and fold them.
_PG_CHANGES = """
    SELECT o.job_id, 'state' AS kind, o.state AS value, -1 AS n
      FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE o.state IS DISTINCT FROM w.state
    UNION ALL SELECT w.job_id, 'state', w.state, 1
      FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE o.state IS DISTINCT FROM w.state
    UNION ALL SELECT o.job_id, 'outcome', o.outcome_status, -1
      FROM old_rows o JOIN new_rows w ON w.id = o.id
      WHERE o.outcome_status IS NOT NULL AND o.outcome_status IS DISTINCT FROM w.outcome_status
    UNION ALL SELECT w.job_id, 'outcome', w.outcome_status, 1
      FROM old_rows o JOIN new_rows w ON w.id = o.id
      WHERE w.outcome_status IS NOT NULL AND o.outcome_status IS DISTINCT FROM w.outcome_status
"""
_PG_ADDED = """
    SELECT job_id, 'state' AS kind, state AS value, 1 AS n FROM {table}
    UNION ALL SELECT job_id, 'outcome', outcome_status, 1 FROM {table} WHERE outcome_status IS NOT NULL
"""


def _pg_function(name: str, changes: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO row_tallies (job_id, kind, value, n)
  SELECT job_id, kind, value, sum(n) FROM ({changes}) AS d GROUP BY job_id, kind, value HAVING sum(n) <> 0;
  RETURN NULL;
END $$"""


PG_FUNCTIONS = {
    "tally_rows_updated": _pg_function("tally_rows_updated", _PG_CHANGES),
    "tally_attempts_inserted": _pg_function(
        "tally_attempts_inserted",
        "SELECT job_id, 'minute' AS kind, (floor(started_at / 60) * 60)::bigint::text AS value, 1 AS n "
        "FROM new_attempts",
    ),
    "tally_rows_deleted": _pg_function(
        "tally_rows_deleted",
        "SELECT job_id, kind, value, -n AS n FROM (" + _PG_ADDED.format(table="old_rows") + ") AS gone",
    ),
}
PG_TRIGGERS = {
    "tally_rows_update": "AFTER UPDATE ON rows REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tally_rows_updated()",
    "tally_rows_delete": "AFTER DELETE ON rows REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tally_rows_deleted()",
    "tally_attempts_insert": "AFTER INSERT ON attempts REFERENCING NEW TABLE AS new_attempts "
    "FOR EACH STATEMENT EXECUTE FUNCTION tally_attempts_inserted()",
}


def upgrade() -> None:
    op.create_table(
        "row_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False, comment="state or outcome"),
        sa.Column("value", sa.String(length=64), nullable=False, comment="the state, or the outcome status"),
        sa.Column("n", sa.Integer(), nullable=False, comment="rows added (or, negative, taken away)"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_row_tallies")),
    )
    op.create_index("ix_row_tallies_job_id", "row_tallies", ["job_id", "kind", "value"], unique=False)
    op.execute(
        "INSERT INTO row_tallies (job_id, kind, value, n) "
        "SELECT job_id, 'state', state, count(*) FROM rows GROUP BY job_id, state"
    )
    op.execute(
        "INSERT INTO row_tallies (job_id, kind, value, n) SELECT job_id, 'outcome', outcome_status, count(*) "
        "FROM rows WHERE outcome_status IS NOT NULL GROUP BY job_id, outcome_status"
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    # The minute a request started (PostgreSQL rounds a cast to integer; SQLite truncates).
    minute = "(floor(started_at / 60) * 60)::bigint::text" if postgres else _SQLITE_MINUTE.format(at="started_at")
    op.execute(
        f"INSERT INTO row_tallies (job_id, kind, value, n) SELECT job_id, 'minute', {minute}, count(*) "
        "FROM attempts GROUP BY 1, 3"
    )
    if postgres:
        for body in PG_FUNCTIONS.values():
            op.execute(body)
        for name, body in PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    op.create_index(
        "ix_rows_held",
        "rows",
        ["job_id", "state", "not_before"],
        unique=False,
        sqlite_where=sa.text("not_before IS NOT NULL"),
        postgresql_where=sa.text("not_before IS NOT NULL"),
    )
    op.create_table(
        "console_users",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False, comment="argon2id; never the password"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_console_users")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False, comment="import, run, pause, cancel, export…"),
        sa.Column("job_id", sa.Integer(), nullable=True, comment="the job it concerned, if one"),
        sa.Column("detail", sa.Text(), server_default="", nullable=False, comment="what, in words (never a secret)"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_job_id", "audit_events", ["job_id"], unique=False)
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "slowed_by",
                sa.String(length=16),
                nullable=True,
                comment="429, 5xx or retry_after while its pace is down because of it",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("slowed_by")
    op.drop_index("ix_audit_events_job_id", table_name="audit_events")
    op.drop_index("ix_rows_held", table_name="rows")
    op.drop_table("audit_events")
    op.drop_table("console_users")
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in PG_TRIGGERS if postgres else SQLITE_TRIGGERS:
        table = "attempts" if "attempts" in name else "rows"
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_index("ix_row_tallies_job_id", table_name="row_tallies")
    op.drop_table("row_tallies")
