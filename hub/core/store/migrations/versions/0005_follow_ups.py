"""Follow-up deliveries: an adapter instance may owe a record more than its first delivery
(a code the citizen sends later, a reply): ``task`` names it ('' for the record's delivery),
``payload`` carries what the adapter needs to send it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("task", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("payload", sa.Text))
        batch.drop_constraint("uq_deliveries_record_adapter", type_="unique")
        batch.create_unique_constraint(
            "uq_deliveries_record_adapter_task", ["record_id", "adapter", "task"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE task <> ''")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_deliveries_record_adapter_task", type_="unique")
        batch.create_unique_constraint("uq_deliveries_record_adapter", ["record_id", "adapter"])
        batch.drop_column("payload")
        batch.drop_column("task")
