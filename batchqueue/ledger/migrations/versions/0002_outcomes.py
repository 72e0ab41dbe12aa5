"""outcomes of queued calls

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:28:26.876183
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "outcome_status", sa.String(length=16), nullable=True, comment="latest call status Insight reported"
            )
        )
        batch_op.add_column(sa.Column("outcome_attempts", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("outcome_last_attempt_at", sa.Integer(), nullable=True, comment="unix seconds, from Insight")
        )
        batch_op.add_column(
            sa.Column(
                "outcome_source", sa.String(length=16), nullable=True, comment="how it was learned: callback, poll"
            )
        )
        batch_op.add_column(sa.Column("outcome_at", sa.Float(), nullable=True, comment="when batchqueue learned it"))
        batch_op.add_column(
            sa.Column("outcome_payload", sa.Text(), nullable=True, comment="the full call_details received, as JSON")
        )
        batch_op.add_column(
            sa.Column("resolution", sa.Text(), nullable=True, comment="how an uncertain row was settled, and by what")
        )


def downgrade() -> None:
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.drop_column("resolution")
        batch_op.drop_column("outcome_payload")
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("outcome_source")
        batch_op.drop_column("outcome_last_attempt_at")
        batch_op.drop_column("outcome_attempts")
        batch_op.drop_column("outcome_status")
