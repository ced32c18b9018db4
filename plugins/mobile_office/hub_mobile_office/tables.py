"""Deployments (Einsätze) of mobile offices: the plan as given, and its dates for queries."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, MetaData, String, Table, Text

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_mobile_office"
metadata = MetaData()

einsaetze = Table(
    "mobile_office_einsaetze",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("ars", String(12), nullable=False),
    Column("plan", Text, nullable=False),  # the Einsatz as validated (JSON)
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("status", String(16), nullable=False),  # planned, cancelled
    Column("cancel_reason", String(500)),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_mobile_office_days", "status", "first_day", "last_day"),
)
