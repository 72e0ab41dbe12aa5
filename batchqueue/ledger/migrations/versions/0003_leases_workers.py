"""leases, workers and a shared pace

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 08:39:16.313211
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pacing",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False, comment="unix seconds of the job's next free request slot"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_pacing_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_pacing")),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
        sa.Column("sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "rate", sa.Float(), server_default="0", nullable=False, comment="requests/s since the last heartbeat"
        ),
        sa.Column("stopped_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_workers_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_owner", sa.String(length=96), nullable=True, comment="the worker sending this row")
        )
        batch_op.add_column(
            sa.Column(
                "lease_expires",
                sa.Float(),
                nullable=True,
                comment="unix seconds; an expired lease on a sending row means uncertain",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.drop_column("lease_expires")
        batch_op.drop_column("lease_owner")

    op.drop_table("workers")
    op.drop_table("pacing")
