"""a test send's row budget shared by every worker of a job (``run --limit N`` on PostgreSQL: N rows
for the job, however many workers send it)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_budgets",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("limit_rows", sa.Integer(), nullable=False, comment="rows the workers of this test send may claim"),
        sa.Column("claimed", sa.Integer(), server_default="0", nullable=False, comment="rows they claimed so far"),
        sa.Column("members", sa.Text(), nullable=False, comment="the ids of the workers sharing it, one a line"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_claim_budgets_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_claim_budgets")),
    )


def downgrade() -> None:
    op.drop_table("claim_budgets")
