"""do-not-call lists, ledger-wide

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 17:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dnc_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=64), nullable=False, comment="the do-not-call list it is on"),
        sa.Column("e164", sa.String(length=20), nullable=False, comment="the number, +E.164"),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True, comment="the file it was imported from, or 'added by hand'"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dnc_entries")),
        sa.UniqueConstraint("e164", "list_name", name="uq_dnc_entries_e164"),
    )


def downgrade() -> None:
    op.drop_table("dnc_entries")
