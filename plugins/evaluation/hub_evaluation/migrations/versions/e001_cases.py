"""The facts per case the reports are made of.

Revision ID: e001
Revises:
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "e001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_cases",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ars", sa.String(12), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("leika", sa.String(14), nullable=False),
        sa.Column("einsatz_id", sa.String(36)),
        sa.Column("age_band", sa.String(8)),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime()),
        sa.Column("dead_lettered", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("retries", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_evaluation_cases_day", "evaluation_cases", ["day"])


def downgrade() -> None:
    op.drop_table("evaluation_cases")
