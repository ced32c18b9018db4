"""Catalogue tables: services, regions, offline authorities, PVOG cache, meta.

Revision ID: c001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hub import UtcDateTime

revision = "c001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_services",
        sa.Column("leika_key", sa.String(14), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name2", sa.Text),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("typisierung", sa.String(64)),
        sa.Column("ozg_id", sa.String(8)),
        sa.Column("ozg_leistung", sa.Text),
        sa.Column("lebenslage", sa.Text),
        sa.Column("themenfeld", sa.Text),
        sa.Column("rechtsgrundlage", sa.Text),
        sa.Column("synonyms", sa.Text),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_index("ix_catalog_services_ozg", "catalog_services", ["ozg_id"])
    op.create_table(
        "catalog_regions",
        sa.Column("ars", sa.String(12), primary_key=True),
        sa.Column("ags", sa.String(8), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("hint", sa.Text),
    )
    op.create_index("ix_catalog_regions_ags", "catalog_regions", ["ags"])
    op.create_table(
        "catalog_authorities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("leika_key", sa.String(14), nullable=False),
        sa.Column("ars", sa.String(12), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("oe_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_catalog_authorities_lookup", "catalog_authorities", ["leika_key", "ars", "role"]
    )
    op.create_table(
        "catalog_authority_cache",
        sa.Column("leika_key", sa.String(14), primary_key=True),
        sa.Column("ars", sa.String(12), primary_key=True),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "catalog_meta",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "catalog_meta",
        "catalog_authority_cache",
        "catalog_authorities",
        "catalog_regions",
        "catalog_services",
    ):
        op.drop_table(table)
