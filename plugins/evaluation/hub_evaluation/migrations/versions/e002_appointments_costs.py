"""OZG-Leistung and Themenfeld, final status and media break per case; appointments,
Einsätze with their offered slots, and cost inputs.

Revision ID: e002
Revises: e001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "e002"
down_revision = "e001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation_cases") as batch:
        batch.add_column(sa.Column("ozg_id", sa.String(16)))
        batch.add_column(sa.Column("ozg_topic", sa.String(64)))
        batch.add_column(sa.Column("final_at", UtcDateTime()))
        batch.add_column(sa.Column("media_break", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "evaluation_appointments",
        sa.Column("appointment_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("office", sa.String(64), nullable=False),
        sa.Column("ars", sa.String(12), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("leika", sa.String(14)),
        sa.Column("booked", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_evaluation_appointments_day", "evaluation_appointments", ["day"])
    op.create_table(
        "evaluation_einsaetze",
        sa.Column("einsatz_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("ars", sa.String(12), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("system", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "evaluation_slots",
        sa.Column("einsatz_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("offered", sa.Integer(), nullable=False),
    )
    op.create_table(
        "evaluation_costs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("ars", sa.String(12), nullable=False),
        sa.Column("einsatz_id", sa.String(36)),
        sa.Column("channel", sa.String(16)),
        sa.Column("staff_hours", sa.Float(), nullable=False, server_default="0"),
        sa.Column("hourly_rate_eur", sa.Float(), nullable=False, server_default="0"),
        sa.Column("travel_eur", sa.Float(), nullable=False, server_default="0"),
        sa.Column("kit_eur", sa.Float(), nullable=False, server_default="0"),
        sa.Column("other_eur", sa.Float(), nullable=False, server_default="0"),
        sa.Column("note", sa.String(500)),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.Column("entered_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("evaluation_costs", "evaluation_slots", "evaluation_einsaetze"):
        op.drop_table(table)
    op.drop_table("evaluation_appointments")
    with op.batch_alter_table("evaluation_cases") as batch:
        for column in ("media_break", "final_at", "ozg_topic", "ozg_id"):
            batch.drop_column(column)
