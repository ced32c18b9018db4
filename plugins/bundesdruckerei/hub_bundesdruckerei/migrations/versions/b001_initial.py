"""Devices, cases, uploads and the audit trail.

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

Big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "koffer_devices",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("municipality", sa.String(12), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime()),
    )
    op.create_table(
        "koffer_cases",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("record_id", sa.String(36)),
        sa.Column("destroyed_at", UtcDateTime()),
        sa.Column("destroyed_why", sa.String(64)),
    )
    op.create_table(
        "koffer_uploads",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("length", Big, nullable=False),
        sa.Column("offset", Big, nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("stored", Big, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime()),
    )
    op.create_index("ix_koffer_uploads_case", "koffer_uploads", ["case_id"])
    op.create_table(
        "koffer_audit",
        sa.Column("id", Big, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(96), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(96), nullable=False),
        sa.Column("detail", sa.Text()),
    )


def downgrade() -> None:
    for table in ("koffer_audit", "koffer_uploads", "koffer_cases", "koffer_devices"):
        op.drop_table(table)
