"""The catalogue's tables in the hub's store, with a migration history of their own."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_ozg_catalog"
metadata = MetaData()

services = Table(
    "catalog_services",
    metadata,
    Column("leika_key", String(14), primary_key=True),
    Column("name", Text, nullable=False),
    Column("name2", Text),
    Column("kind", String(4), nullable=False),
    Column("typisierung", String(64)),  # comma-separated, a key can carry several
    Column("ozg_id", String(8)),
    Column("ozg_leistung", Text),
    Column("lebenslage", Text),
    Column("themenfeld", Text),
    Column("rechtsgrundlage", Text),
    Column("synonyms", Text),  # "|"-separated
    Column("source", String(32), nullable=False),
    Index("ix_catalog_services_ozg", "ozg_id"),
)

regions = Table(
    "catalog_regions",
    metadata,
    Column("ars", String(12), primary_key=True),
    Column("ags", String(8), nullable=False),
    Column("name", Text, nullable=False),
    Column("hint", Text),
    Index("ix_catalog_regions_ags", "ags"),
)

authorities = Table(
    "catalog_authorities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("leika_key", String(14), nullable=False),
    Column("ars", String(12), nullable=False),
    Column("role", String(8), nullable=False),
    Column("oe_id", String(128), nullable=False),
    Column("name", Text, nullable=False),
    Column("detail", Text, nullable=False),  # JSON: address, contact, source
    Index("ix_catalog_authorities_lookup", "leika_key", "ars", "role"),
)

authority_cache = Table(
    "catalog_authority_cache",
    metadata,
    Column("leika_key", String(14), primary_key=True),
    Column("ars", String(12), primary_key=True),
    Column("result", Text, nullable=False),  # JSON, may be {"found": false}
    Column("fetched_at", UtcDateTime(), nullable=False),
)

meta = Table(
    "catalog_meta",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)
