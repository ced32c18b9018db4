"""Several booking systems (office ids carry the system's prefix), walk-ins, the
logged-in citizen's pseudonym, the length, and a system's reason for calling one off.

Revision ID: p002
Revises: p001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "p002"
down_revision = "p001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table to change a column and a constraint.
    with op.batch_alter_table("appointments", recreate="auto") as batch:
        batch.alter_column("office_id", type_=sa.String(64), existing_nullable=False)
        batch.alter_column("system", type_=sa.String(32), existing_nullable=False)
        batch.add_column(sa.Column("minutes", sa.Integer()))
        batch.add_column(sa.Column("citizen_sha256", sa.String(64)))
        batch.add_column(sa.Column("cancel_reason", sa.String(500)))
    op.create_index("ix_appointments_citizen", "appointments", ["citizen_sha256"])
    op.create_index("ix_appointments_office_start", "appointments", ["office_id", "start_at"])


def downgrade() -> None:
    op.drop_index("ix_appointments_office_start", "appointments")
    op.drop_index("ix_appointments_citizen", "appointments")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("cancel_reason")
        batch.drop_column("citizen_sha256")
        batch.drop_column("minutes")
