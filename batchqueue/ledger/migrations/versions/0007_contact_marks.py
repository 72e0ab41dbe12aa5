"""when each number was last claimed for sending, for re-contact limits across jobs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_marks",
        sa.Column("e164", sa.String(length=20), nullable=False, comment="a number, +E.164"),
        sa.Column("job_id", sa.Integer(), nullable=False, comment="the job that last claimed it for sending"),
        sa.Column("row_number", sa.Integer(), nullable=False, comment="that job's row"),
        sa.Column("contacted_at", sa.Float(), nullable=False, comment="when it was claimed (unix seconds)"),
        sa.PrimaryKeyConstraint("e164", name=op.f("pk_contact_marks")),
    )


def downgrade() -> None:
    op.drop_table("contact_marks")
