"""Attachments keep the file name they were uploaded with.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("record_attachments") as batch:
        batch.add_column(sa.Column("filename", sa.String(500)))


def downgrade() -> None:
    with op.batch_alter_table("record_attachments") as batch:
        batch.drop_column("filename")
