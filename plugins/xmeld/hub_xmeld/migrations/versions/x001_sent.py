"""Sent XMeld messages (nachrichtenUUID → record) for answer correlation.

Revision ID: x001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "x001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xmeld_sent",
        sa.Column("nachrichten_uuid", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("message_type", sa.String(4), nullable=False),
        sa.Column("xta_message_id", sa.String(255)),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("xmeld_sent")
