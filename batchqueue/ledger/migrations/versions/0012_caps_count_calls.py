"""caps count calls: each logged claim keeps how many calls Insight may place for it (its
max_attempts) and until when they may be placed; a number's mark keeps that moment too

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends. Claims logged before this revision count as one call,
    # placed when they were claimed (NULL: contacted_at), as they were counted until now.
    op.add_column(
        "contact_log",
        sa.Column(
            "calls",
            sa.Integer(),
            server_default="1",
            nullable=False,
            comment="calls Insight may place for this claim (its max_attempts)",
        ),
    )
    op.add_column(
        "contact_log",
        sa.Column("last_call_at", sa.Float(), nullable=True, comment="the latest moment one of them may be placed"),
    )
    op.add_column(
        "contact_marks",
        sa.Column("last_call_at", sa.Float(), nullable=True, comment="the latest moment its calls may be placed"),
    )


def downgrade() -> None:
    op.drop_column("contact_marks", "last_call_at")
    op.drop_column("contact_log", "last_call_at")
    op.drop_column("contact_log", "calls")
