"""Appointments booked through the hub.

Revision ID: p001
Revises:
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "p001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("process_id", sa.String(32), nullable=False, unique=True),
        sa.Column("auth_key", sa.String(32), nullable=False),
        sa.Column("office_id", sa.String(32), nullable=False),
        sa.Column("ars", sa.String(12), nullable=False),
        sa.Column("services", sa.Text(), nullable=False),
        sa.Column("start_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reserved_until", UtcDateTime()),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("booked_by", sa.String(64), nullable=False),
        sa.Column("trust_level", sa.String(16)),
        sa.Column("record_id", sa.String(36)),
        sa.Column("cancel_token_sha256", sa.String(64)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_appointments_due", "appointments", ["status", "reserved_until"])
    op.create_index("ix_appointments_record", "appointments", ["record_id"])


def downgrade() -> None:
    op.drop_table("appointments")
