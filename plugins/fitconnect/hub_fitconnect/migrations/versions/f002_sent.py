"""Submissions sent, followed to their outcome.

Revision ID: f002
Revises: f001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "f002"
down_revision = "f001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fitconnect_sent",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("destination_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fitconnect_sent")
