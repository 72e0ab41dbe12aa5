"""each console user's session version: logging out, a new password or removing the user ends every
session of that user (a session is valid only while it carries its user's current version)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("console_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "session_version",
                sa.Integer(),
                server_default="0",
                nullable=False,
                comment="sessions carry it; raised to end them all (logout, new password)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("console_users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
