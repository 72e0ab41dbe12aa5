"""a held row's reason as a word of one vocabulary (``batchqueue.holds.HoldReason``) in
``rows.hold_reason``, its particulars in ``rows.hold_detail``; held rows indexed by reason, so a
job's holds are counted by reason from the index

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The texts earlier versions wrote in ``hold_reason``, and the reason each meant.
_EARLIER = (
    ("calling hours:%", "calling_window"),
    ("no time zone%", "no_zone"),
    ("its own end comes before%", "no_calling_time"),
    ("no allowed calling time%", "no_calling_time"),
    ("state cap:%", "state_cap"),
    ("the windows of two send-time rules%", "rules_disagree"),
)


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: SQLite never rebuilds ``rows`` (its triggers stay).
    op.add_column("rows", sa.Column("hold_detail", sa.Text(), nullable=True, comment="this hold's particulars"))
    cases = " ".join(f"WHEN hold_reason LIKE '{like}' THEN '{reason}'" for like, reason in _EARLIER)
    op.execute(
        f"UPDATE rows SET hold_detail = hold_reason, hold_reason = CASE {cases} ELSE 'send_time_rule' END "
        "WHERE hold_reason IS NOT NULL"
    )
    op.execute("UPDATE rows SET hold_reason = 'unknown' WHERE not_before IS NOT NULL AND hold_reason IS NULL")
    op.drop_index("ix_rows_held", table_name="rows")
    _held_index(["job_id", "state", "hold_reason", "not_before"])


def downgrade() -> None:
    op.drop_index("ix_rows_held", table_name="rows")
    _held_index(["job_id", "state", "not_before"])
    op.execute("UPDATE rows SET hold_reason = NULL WHERE hold_reason = 'unknown' AND hold_detail IS NULL")
    op.execute("UPDATE rows SET hold_reason = COALESCE(hold_detail, hold_reason) WHERE hold_reason IS NOT NULL")
    op.drop_column("rows", "hold_detail")


def _held_index(columns: list[str]) -> None:
    op.create_index(
        "ix_rows_held",
        "rows",
        columns,
        unique=False,
        sqlite_where=sa.text("not_before IS NOT NULL"),
        postgresql_where=sa.text("not_before IS NOT NULL"),
    )
