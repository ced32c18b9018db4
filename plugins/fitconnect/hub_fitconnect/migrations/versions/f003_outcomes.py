"""Outcomes that are tried again (unverified, held, failed) keep attempts and a next time.

Revision ID: f003
Revises: f002
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "f003"
down_revision = "f002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fitconnect_received") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", UtcDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("fitconnect_received") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
