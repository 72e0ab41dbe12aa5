"""facts derived by import rules, holds and the window a send-time rule gave a request

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("facts", sa.Text(), nullable=True, comment="JSON of what import-time rules derived")
        )
        batch_op.add_column(
            sa.Column("not_before", sa.Float(), nullable=True, comment="a send-time rule holds it pending until then")
        )
        batch_op.add_column(sa.Column("hold_reason", sa.Text(), nullable=True, comment="why it is held"))
        batch_op.add_column(
            sa.Column("sent_start_ts", sa.Integer(), nullable=True, comment="the start a send-time rule gave it")
        )
        batch_op.add_column(
            sa.Column("sent_end_ts", sa.Integer(), nullable=True, comment="the end a send-time rule gave it")
        )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column(
            "outcome",
            existing_type=sa.String(length=16),
            existing_nullable=True,
            comment="the reply class (docs/ARCHITECTURE.md, replies)",
            existing_comment="the reply class of DESIGN.md's table",
        )


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.alter_column(
            "outcome",
            existing_type=sa.String(length=16),
            existing_nullable=True,
            comment="the reply class of DESIGN.md's table",
            existing_comment="the reply class (docs/ARCHITECTURE.md, replies)",
        )
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.drop_column("sent_end_ts")
        batch_op.drop_column("sent_start_ts")
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("not_before")
        batch_op.drop_column("facts")
