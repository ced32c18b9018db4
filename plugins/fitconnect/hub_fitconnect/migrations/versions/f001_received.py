"""Outcomes of received submissions.

Revision ID: f001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "f001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fitconnect_received",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("destination_id", sa.String(36)),
        sa.Column("case_id", sa.String(36)),
        sa.Column("record_id", sa.String(36)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fitconnect_received")
