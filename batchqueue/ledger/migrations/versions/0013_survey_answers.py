"""survey answers: the visits of Insight's saved reports, and the visit each row's call gave

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False, comment="the saved report it was read from"),
        sa.Column("visit_key", sa.String(length=64), nullable=False, comment="sha256 of what identifies the visit"),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="outbound, inbound, web, other or unreadable"),
        sa.Column("survey_id", sa.Text(), nullable=True, comment="as the report wrote it"),
        sa.Column("visit_type", sa.Text(), nullable=True, comment="the Visit Type cell, as written"),
        sa.Column("phone", sa.Text(), nullable=True, comment="the Phone Number cell, as written"),
        sa.Column(
            "e164",
            sa.String(length=20),
            nullable=True,
            comment="that number, read as the job reads its numbers (outbound visits)",
        ),
        sa.Column("start_ts", sa.Float(), nullable=True, comment="the visit's Start, unix seconds"),
        sa.Column("end_ts", sa.Float(), nullable=True, comment="its End, unix seconds"),
        sa.Column("completed", sa.Text(), nullable=True, comment="the Completed cell, as written"),
        sa.Column("answers", sa.Text(), nullable=False, comment="JSON object: question -> answer, exactly as written"),
        sa.Column("problem", sa.Text(), nullable=True, comment="why an unreadable visit could not be read"),
        sa.Column("fetched_at", sa.Float(), nullable=False, comment="when it was last read"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_visits")),
        sa.UniqueConstraint("report_id", "visit_key", name="uq_survey_visits_report_id"),
    )
    op.create_index("ix_survey_visits_report_e164", "survey_visits", ["report_id", "e164"], unique=False)
    op.create_table(
        "row_answers",
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True, comment="none when ambiguous"),
        sa.Column("note", sa.Text(), nullable=True, comment="why no visit (or which of several) was joined, in words"),
        sa.ForeignKeyConstraint(["row_id"], ["rows.id"], name=op.f("fk_row_answers_row_id_rows"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["survey_visits.id"], name=op.f("fk_row_answers_visit_id_survey_visits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_row_answers")),
    )
    op.create_index("ix_row_answers_job_id", "row_answers", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_row_answers_job_id", table_name="row_answers")
    op.drop_table("row_answers")
    op.drop_index("ix_survey_visits_report_e164", table_name="survey_visits")
    op.drop_table("survey_visits")
