"""Initial schema: records, deliveries, history, checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hub.core.store.schema import BigId, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("leika_key", sa.String(14), nullable=False),
        sa.Column("ars", sa.String(12), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.UniqueConstraint("client", "idempotency_key", name="uq_records_client_idempotency_key"),
    )
    op.create_index("ix_records_status_received", "records", ["status", "received_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "record_id",
            sa.String(36),
            sa.ForeignKey("records.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("adapter", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", UtcDateTime()),
        sa.Column("last_error", sa.Text),
        sa.Column("receipt", sa.Text),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime()),
        sa.UniqueConstraint("record_id", "adapter", name="uq_deliveries_record_adapter"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "record_id",
            sa.String(36),
            sa.ForeignKey("records.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("adapter", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_history_record", "history", ["record_id", "id"])
    op.create_table(
        "checkpoints",
        sa.Column(
            "record_id",
            sa.String(36),
            sa.ForeignKey("records.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("adapter", sa.String(64), primary_key=True),
        sa.Column("step", sa.String(128), primary_key=True),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("checkpoints", "history", "deliveries", "records"):
        op.drop_table(table)
