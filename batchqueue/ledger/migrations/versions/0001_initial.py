"""initial ledger: jobs, rows, attempts

Revision ID: 0001
Revises:
Create Date: 2026-11-27 07:45:42.679265
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.String(length=64), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_kind", sa.String(length=8), nullable=False),
        sa.Column("sheet", sa.Text(), nullable=True),
        sa.Column("encoding", sa.String(length=32), nullable=True),
        sa.Column("delimiter", sa.String(length=4), nullable=True),
        sa.Column("headers", sa.Text(), nullable=False, comment="JSON list of the header names"),
        sa.Column("mapping", sa.Text(), nullable=False, comment="JSON of the effective mapping"),
        sa.Column("fingerprint", sa.String(length=64), nullable=False, comment="sha256 of the effective mapping"),
        sa.Column("options", sa.Text(), server_default="{}", nullable=False, comment="JSON of job options"),
        sa.Column("blank_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_source", ["source_sha256", "survey_id", "instance_id", "fingerprint"], unique=False
        )

    op.create_table(
        "rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False, comment="as a spreadsheet program numbers it"),
        sa.Column("cells", sa.Text(), nullable=False, comment="JSON list of the original cells, as text"),
        sa.Column("phone_number", sa.Text(), nullable=True, comment="tel:+E164[;ani=…][;postd=…] as sent"),
        sa.Column("e164", sa.String(length=20), nullable=True),
        sa.Column("start_ts", sa.Integer(), nullable=True),
        sa.Column("end_ts", sa.Integer(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("reattempt_wait", sa.Integer(), nullable=True),
        sa.Column("result_url", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=True, comment="JSON list of [column, reason] for invalid rows"),
        sa.Column("duplicate_of", sa.Integer(), nullable=True, comment="row_number of the first row with this number"),
        sa.Column("token", sa.String(length=32), nullable=True, comment="per-row secret for the result_url callback"),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_rows_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rows")),
    )
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.create_index("ix_rows_job_state", ["job_id", "state"], unique=False)

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True, comment="the reply class of DESIGN.md's table"),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_attempts_job_id_jobs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["row_id"], ["rows.id"], name=op.f("fk_attempts_row_id_rows"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_row_id", ["row_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_row_id")

    op.drop_table("attempts")
    with op.batch_alter_table("rows", schema=None) as batch_op:
        batch_op.drop_index("ix_rows_job_state")

    op.drop_table("rows")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_source")

    op.drop_table("jobs")
