"""Attachments added to a record after intake.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hub.core.store.schema import BigId, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_attachments",
        sa.Column(
            "record_id",
            sa.String(36),
            sa.ForeignKey("records.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("attachment_id", sa.String(128), primary_key=True),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        sa.Column("size", BigId, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("added_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_record_attachments_sha256", "record_attachments", ["sha256"])


def downgrade() -> None:
    op.drop_table("record_attachments")
