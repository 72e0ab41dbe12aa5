"""a job can be archived (kept, out of the lists) or deleted (its rows gone, its id kept so that it is
never given to another job); a job's requests indexed by time (the rate over the last seconds,
counted exactly; a job's requests found for deleting it)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: SQLite never rebuilds ``jobs`` (a rebuild drops the table,
    # and the foreign keys' ON DELETE CASCADE would take every job's rows with it).
    op.add_column(
        "jobs", sa.Column("archived_at", sa.Float(), nullable=True, comment="when it was archived; NULL: not archived")
    )
    op.add_column(
        "jobs",
        sa.Column(
            "deleted_at",
            sa.Float(),
            nullable=True,
            comment="when its rows were deleted (the id is never used again); NULL: not",
        ),
    )
    op.create_index("ix_attempts_job_started", "attempts", ["job_id", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attempts_job_started", table_name="attempts")
    # Plain DROP COLUMN (SQLite 3.35+) for the same reason: no rebuild of ``jobs``.
    op.drop_column("jobs", "deleted_at")
    op.drop_column("jobs", "archived_at")
