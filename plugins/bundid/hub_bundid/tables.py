"""The SP's state in the hub's store: issued requests, seen assertions, sessions."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_bundid"
metadata = MetaData()

requests = Table(
    "bundid_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("min_rank", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
)

assertions = Table(
    "bundid_assertions",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("expires_at", UtcDateTime(), nullable=False),
)

sessions = Table(
    "bundid_sessions",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("level", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("idle_seconds", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_bundid_sessions_expires", "expires_at"),
)
