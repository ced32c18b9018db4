"""Tables of the hub's store (SQLAlchemy Core). Alembic migrations create them; a test checks
that the migrations and these definitions agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

records = Table(
    "records",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("client", String(64), nullable=False),
    Column("idempotency_key", String(255)),
    Column("body_sha256", String(64), nullable=False),
    Column("leika_key", String(14), nullable=False),
    Column("ars", String(12), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("client", "idempotency_key", name="uq_records_client_idempotency_key"),
    Index("ix_records_status_received", "status", "received_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("record_id", String(36), ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
    Column("adapter", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime()),
    Column("last_error", Text),
    Column("receipt", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime()),
    # '' for the record's own delivery; else a follow-up (hub.Hub.follow_up) with its payload.
    Column("task", String(64), nullable=False, server_default=""),
    Column("payload", Text),
    UniqueConstraint("record_id", "adapter", "task", name="uq_deliveries_record_adapter_task"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

history = Table(
    "history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("record_id", String(36), ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("status", String(64), nullable=False),
    Column("adapter", String(64)),
    Column("detail", Text),
    Index("ix_history_record", "record_id", "id"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("record_id", String(36), ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("adapter", String(64), primary_key=True),
    Column("step", String(128), primary_key=True),
    Column("result", Text, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

status_reports = Table(
    "status_reports",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("record_id", String(36), ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

# Documents that arrive after intake (e.g. a Meldebestätigung from the office); the bytes live
# in the content-addressed attachment directory, named by their SHA-256.
record_attachments = Table(
    "record_attachments",
    metadata,
    Column("record_id", String(36), ForeignKey("records.id", ondelete="CASCADE"), primary_key=True),
    Column("attachment_id", String(128), primary_key=True),
    Column("purpose", String(64), nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("size", BigId, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source", String(64)),
    Column("added_at", UtcDateTime(), nullable=False),
    Column("filename", String(500)),
    # Where the bytes are: 'files' (content-addressed by sha256) or a plugin's backend + ref.
    Column("backend", String(32), nullable=False, server_default="files"),
    Column("ref", String(255)),
    Index("ix_record_attachments_sha256", "sha256"),
)

# People who sign in to the console: roles and the municipalities they may see, exactly like
# API clients. Passwords only as argon2id hashes.
staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(255)),  # argon2id (PHC string); None: single sign-on only
    Column("roles", Text, nullable=False),  # JSON list
    Column("municipalities", Text, nullable=False),  # JSON list of ARS patterns
    Column("active", Integer, nullable=False, server_default="1"),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Console sessions: the cookie holds a random id; the store keeps its SHA-256 and the
# session's CSRF token (required on every form that changes something).
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_staff_sessions_user", "username"),
)

# Every change a person made through the console (or `hub staff`): who, when, what, on what.
staff_audit = Table(
    "staff_audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("username", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255)),
    Column("detail", String(1000)),
    Index("ix_staff_audit_at", "at"),
)
