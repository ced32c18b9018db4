"""Where the koffer stood when it uploaded.

Revision ID: b002
Revises: b001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "b002"
down_revision = "b001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("koffer_uploads", sa.Column("location", sa.String(200)))


def downgrade() -> None:
    op.drop_column("koffer_uploads", "location")
