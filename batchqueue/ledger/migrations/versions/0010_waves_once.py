"""a row goes into one wave only: the wave that took it is kept on the parent's row; the console
form submission that made a job (a double submit finds it); the row number of each logged claim

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: SQLite never rebuilds the table (its triggers stay).
    op.add_column(
        "rows",
        sa.Column("taken_by_wave", sa.Integer(), nullable=True, comment="the wave (job id) recycle took this row into"),
    )
    op.add_column(
        "jobs",
        sa.Column(
            "submit_token", sa.String(64), nullable=True, comment="the console form submission that made it (recycle)"
        ),
    )
    op.create_index("ix_jobs_submit_token", "jobs", ["submit_token"], unique=True)
    op.add_column(
        "contact_log", sa.Column("row_number", sa.Integer(), nullable=True, comment="that job's row, when known")
    )
    _mark_rows_taken_by_earlier_waves()


def _mark_rows_taken_by_earlier_waves() -> None:
    """Waves made before this revision: their parent's rows are marked with the first wave that
    copied them (a wave keeps its parent's row numbers), so that they are never recycled again."""
    conn = op.get_bind()
    found = conn.execute(sa.text("SELECT id, options FROM jobs ORDER BY id")).all()
    for job_id, raw in found:
        parent = json.loads(raw or "{}").get("parent_job_id")
        if parent is None:
            continue
        conn.execute(
            sa.text(
                "UPDATE rows SET taken_by_wave = :wave WHERE job_id = :parent AND taken_by_wave IS NULL "
                "AND row_number IN (SELECT row_number FROM rows WHERE job_id = :wave)"
            ),
            {"wave": job_id, "parent": int(parent)},
        )


def downgrade() -> None:
    op.drop_column("contact_log", "row_number")
    op.drop_index("ix_jobs_submit_token", table_name="jobs")
    op.drop_column("jobs", "submit_token")
    op.drop_column("rows", "taken_by_wave")
