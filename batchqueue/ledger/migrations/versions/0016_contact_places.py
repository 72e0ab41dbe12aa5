"""every state a contact may be in, and each source of its zones and states, beside the window

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: a batch rebuild of ``rows`` on SQLite would drop its triggers.
    op.add_column(
        "rows", sa.Column("sent_states", sa.Text(), nullable=True, comment="every US state its contact may be in")
    )
    op.add_column(
        "rows",
        sa.Column(
            "sent_places", sa.Text(), nullable=True, comment="each source of its zones and states, and what it named"
        ),
    )


def downgrade() -> None:
    op.drop_column("rows", "sent_places")
    op.drop_column("rows", "sent_states")
