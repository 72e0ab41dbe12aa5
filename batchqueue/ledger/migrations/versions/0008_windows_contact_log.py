"""the time zone(s) a request's calling window was computed in and which source decided them; a
log of every claim of a number, for --max-contacts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sent_timezone", sa.Text(), nullable=True, comment="the zone(s) its calling window was set in")
        )
        batch_op.add_column(
            sa.Column("timezone_source", sa.String(16), nullable=True, comment="column, zip, number, default or region")
        )
    op.create_table(
        "contact_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False, comment="a number, +E.164"),
        sa.Column("job_id", sa.Integer(), nullable=False, comment="the job that claimed it for sending"),
        sa.Column("contacted_at", sa.Float(), nullable=False, comment="when (unix seconds)"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_log")),
    )
    op.create_index("ix_contact_log_e164_at", "contact_log", ["e164", "contacted_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_contact_log_e164_at", table_name="contact_log")
    op.drop_table("contact_log")
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.drop_column("timezone_source")
        batch_op.drop_column("sent_timezone")
