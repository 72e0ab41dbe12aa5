"""every state a contact may be in, and each source of its zones and states, beside the window

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sent_states", sa.Text(), nullable=True, comment="every US state its contact may be in")
        )
        batch_op.add_column(
            sa.Column(
                "sent_places",
                sa.Text(),
                nullable=True,
                comment="each source of its zones and states, and what it named",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.drop_column("sent_places")
        batch_op.drop_column("sent_states")
