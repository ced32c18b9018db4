"""The plugin's tables: devices, cases (one data key per application), uploads, audit trail."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_bundesdruckerei"
metadata = MetaData()
Big = BigInteger().with_variant(Integer(), "sqlite")

devices = Table(
    "koffer_devices",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("municipality", String(12), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)

# One case per application a koffer captures: its data key, wrapped by the master key. The key
# is destroyed (wrapped_key NULL) once the back office confirmed receipt or retention ran out.
cases = Table(
    "koffer_cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("device", String(64), nullable=False),
    Column("wrapped_key", LargeBinary),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("record_id", String(36)),
    Column("destroyed_at", UtcDateTime()),
    Column("destroyed_why", String(64)),
)

uploads = Table(
    "koffer_uploads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("device", String(64), nullable=False),
    Column("case_id", String(64), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("length", Big, nullable=False),
    Column("offset", Big, nullable=False),
    Column("segments", Integer, nullable=False),
    Column("stored", Big, nullable=False),  # ciphertext bytes committed
    Column("sha256", String(64)),  # of the plaintext, once complete
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
    Column("location", String(200)),  # where the koffer stood (Upload-Metadata "location")
    Index("ix_koffer_uploads_case", "case_id"),
)

# Who did what when, with ids only: never names, never image data.
audit = Table(
    "koffer_audit",
    metadata,
    Column("id", Big, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(96), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(96), nullable=False),
    Column("detail", Text),
)
