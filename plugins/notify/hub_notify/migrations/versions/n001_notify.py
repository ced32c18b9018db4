"""Messages, what is to be told later, unsubscribe tokens, the letters' print queue.

Revision ID: n001
Revises:
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "n001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_messages",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("event", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(200)),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_notify_messages_message_id", "notify_messages", ["message_id"])
    op.create_table(
        "notify_schedule",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("task", sa.String(64), primary_key=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("appointment_id", sa.String(36)),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("queued_at", UtcDateTime()),
    )
    op.create_index("ix_notify_schedule_due", "notify_schedule", ["queued_at", "due_at"])
    op.create_table(
        "notify_subscriptions",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("unsubscribed_at", UtcDateTime()),
    )
    op.create_table(
        "notify_letters",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("ars", sa.String(12), nullable=False),
        sa.Column("pdf", sa.LargeBinary()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("printed_at", UtcDateTime()),
    )


def downgrade() -> None:
    for table in ("notify_letters", "notify_subscriptions", "notify_schedule"):
        op.drop_table(table)
    op.drop_table("notify_messages")
