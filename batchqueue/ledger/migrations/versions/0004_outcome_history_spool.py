"""outcome history, the first final outcome stands, callback spool positions, wider ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcome_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False, comment="callback or poll"),
        sa.Column(
            "status",
            sa.String(length=64),
            nullable=True,
            comment="the call status reported; empty for an unreadable report",
        ),
        sa.Column(
            "verdict",
            sa.String(length=16),
            nullable=False,
            comment="recorded, conflict (after a final outcome) or error",
        ),
        sa.Column("detail", sa.Text(), nullable=True, comment="what was wrong with an unreadable report"),
        sa.Column("payload", sa.Text(), nullable=True, comment="the report as received, as JSON"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_outcome_events_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["row_id"], ["rows.id"], name=op.f("fk_outcome_events_row_id_rows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_events")),
    )
    with op.batch_alter_table("outcome_events", schema=None) as batch_op:
        batch_op.create_index("ix_outcome_events_row_id", ["row_id"], unique=False)
    op.create_table(
        "spool_positions",
        sa.Column("spool_id", sa.String(length=64), nullable=False, comment="a callback spool file's own id"),
        sa.Column("position", sa.Integer(), nullable=False, comment="bytes of it applied to this ledger"),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("spool_id", name=op.f("pk_spool_positions")),
    )
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "outcome_conflicts",
                sa.Integer(),
                server_default="0",
                nullable=False,
                comment="later outcomes that differed from the first final one (kept in outcome_events)",
            )
        )
        batch_op.alter_column("call_id", existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=True)
        batch_op.alter_column(
            "outcome_status",
            existing_type=sa.String(length=16),
            type_=sa.String(length=64),
            existing_nullable=True,
            existing_comment="latest call status Insight reported",
            comment="latest call status Insight reported; a final one stands",
        )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column("call_id", existing_type=sa.String(length=64), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column("call_id", existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=True)
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.alter_column(
            "outcome_status",
            existing_type=sa.String(length=64),
            type_=sa.String(length=16),
            existing_nullable=True,
            comment="latest call status Insight reported",
        )
        batch_op.alter_column("call_id", existing_type=sa.Text(), type_=sa.String(length=64), existing_nullable=True)
        batch_op.drop_column("outcome_conflicts")
    op.drop_table("spool_positions")
    with op.batch_alter_table("outcome_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outcome_events_row_id")
    op.drop_table("outcome_events")
