"""What the notify plugin keeps: each message's fate (sent once, never twice), what is to be
told later (reminders, quiet hours), the citizens' unsubscribe tokens, and letters waiting to
be printed."""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, MetaData, String, Table, Text

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_notify"
metadata = MetaData()

messages = Table(
    "notify_messages",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("event", String(64), primary_key=True),  # the follow-up task: one message each
    Column("channel", String(16), nullable=False),  # email, letter
    # sending (written before the mail server is spoken to) → sent | bounced | uncertain
    Column("state", String(16), nullable=False),
    Column("message_id", String(200)),  # the e-mail's Message-ID (bounces name it)
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_notify_messages_message_id", "message_id"),
)

# What is to be told later: reminders before an appointment, and messages held back by the
# quiet hours; queued as follow-ups in the core outbox when due.
schedule = Table(
    "notify_schedule",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("task", String(64), primary_key=True),
    Column("payload", Text, nullable=False),  # JSON
    Column("appointment_id", String(36)),  # a reminder's appointment (dropped when cancelled)
    Column("due_at", UtcDateTime(), nullable=False),
    Column("queued_at", UtcDateTime()),
    Index("ix_notify_schedule_due", "queued_at", "due_at"),
)

subscriptions = Table(
    "notify_subscriptions",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("token", String(64), nullable=False, unique=True),  # in the unsubscribe link
    Column("unsubscribed_at", UtcDateTime()),
)

letters = Table(
    "notify_letters",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("record_id", String(36), nullable=False),
    Column("event", String(64), nullable=False),
    Column("ars", String(12), nullable=False),  # whose office prints it
    Column("pdf", LargeBinary),  # dropped once printed
    Column("created_at", UtcDateTime(), nullable=False),
    Column("printed_at", UtcDateTime()),
)
