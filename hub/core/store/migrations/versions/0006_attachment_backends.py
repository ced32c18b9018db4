"""Attachments name where their bytes are: ``backend`` ('files': the hub's content-addressed
directory; else a plugin's backend, e.g. encrypted at rest) and ``ref`` (the backend's locator).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("record_attachments") as batch:
        batch.add_column(
            sa.Column("backend", sa.String(32), nullable=False, server_default="files")
        )
        batch.add_column(sa.Column("ref", sa.String(255)))


def downgrade() -> None:
    op.execute("DELETE FROM record_attachments WHERE backend <> 'files'")
    with op.batch_alter_table("record_attachments") as batch:
        batch.drop_column("ref")
        batch.drop_column("backend")
