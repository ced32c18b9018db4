"""The slot book of Einsätze no booking system sells.

Revision ID: m002
Revises: m001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "m002"
down_revision = "m001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mobile_office_bookings",
        sa.Column("process_id", sa.String(32), primary_key=True),
        sa.Column("auth_key", sa.String(32), nullable=False),
        sa.Column("einsatz_id", sa.String(36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_at", UtcDateTime(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("services", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reserved_until", UtcDateTime()),
        sa.Column("reason", sa.String(32)),
        sa.Column("district", sa.String(100)),
        sa.Column("family_name", sa.String(100)),
        sa.Column("email", sa.String(254)),
        sa.Column("telephone", sa.String(40)),
        sa.Column("cancelled_by", sa.String(16)),
        sa.Column("cancel_reason", sa.String(500)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_mobile_office_bookings_day",
        "mobile_office_bookings",
        ["einsatz_id", "day", "status"],
    )


def downgrade() -> None:
    op.drop_table("mobile_office_bookings")
