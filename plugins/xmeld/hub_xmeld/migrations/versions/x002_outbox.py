"""Outbox for messages sent outside a delivery (1706 Bestätigungscode).

Revision ID: x002
Revises: x001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "x002"
down_revision = "x001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xmeld_outbox",
        sa.Column("nachrichten_uuid", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("message_type", sa.String(4), nullable=False),
        sa.Column("reader", sa.String(255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("xta_message_id", sa.String(255)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime()),
    )
    op.create_index("ix_xmeld_outbox_record_id", "xmeld_outbox", ["record_id"])


def downgrade() -> None:
    op.drop_table("xmeld_outbox")
