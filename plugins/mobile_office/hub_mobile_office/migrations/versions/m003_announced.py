"""Whether a cancellation by the office has been announced (``booking_cancelled``): set
in the same transaction as the cancellation, cleared once announced, so a crash in between
is caught up on the next start.

Revision ID: m003
Revises: m002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "m003"
down_revision = "m002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mobile_office_bookings") as batch:
        batch.add_column(sa.Column("to_announce", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("mobile_office_bookings") as batch:
        batch.drop_column("to_announce")
