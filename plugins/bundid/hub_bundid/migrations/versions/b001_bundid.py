"""BundID SP state: requests, assertions (replay cache), sessions.

Revision ID: b001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "b001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bundid_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("min_rank", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime()),
    )
    op.create_table(
        "bundid_assertions",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "bundid_sessions",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("idle_seconds", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_bundid_sessions_expires", "bundid_sessions", ["expires_at"])


def downgrade() -> None:
    for table in ("bundid_sessions", "bundid_assertions", "bundid_requests"):
        op.drop_table(table)
