"""the states each logged claim was decided under (``contact_log.states``), so that a state's cap
holds for every later claim of the number, whichever job makes it; entries logged before get their
row's calling-window states (``rows.sent_states``), where it has them

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "contact_log",
        sa.Column("states", sa.Text(), nullable=True, comment="the US states the claim was decided under: FL NY"),
    )
    # One joined UPDATE (both backends; SQLite 3.33+): an entry of a row whose calling window named
    # its states. Other entries keep NULL: only the claiming row's own states count for them. The
    # number is joined too: SQLite then reads each such row once and finds its entries by the log's
    # index on e164 (by job alone it scanned the job's rows for every entry: hours on a large ledger).
    op.execute(
        "UPDATE contact_log SET states = r.sent_states FROM rows r "
        "WHERE contact_log.e164 = r.e164 AND contact_log.job_id = r.job_id "
        "AND contact_log.row_number = r.row_number AND r.sent_states IS NOT NULL AND r.sent_states <> ''"
    )


def downgrade() -> None:
    op.drop_column("contact_log", "states")
