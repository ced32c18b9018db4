"""Messages the hub sent to Meldebehörden (so their answers find their records) and the
messages waiting to be sent outside a delivery."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_xmeld"
metadata = MetaData()

sent = Table(
    "xmeld_sent",
    metadata,
    Column("nachrichten_uuid", String(36), primary_key=True),
    Column("record_id", String(36), nullable=False),
    Column("message_type", String(4), nullable=False),
    Column("xta_message_id", String(255)),
    Column("sent_at", UtcDateTime(), nullable=False),
)

# Messages the hub sends outside a record's delivery (the citizen's Bestätigungscode, 1706):
# committed here before the client hears 202, sent by the inbox channel's loop.
outbox = Table(
    "xmeld_outbox",
    metadata,
    Column("nachrichten_uuid", String(36), primary_key=True),
    Column("record_id", String(36), nullable=False, index=True),
    Column("message_type", String(4), nullable=False),
    Column("reader", String(255), nullable=False),
    Column("content", Text, nullable=False),  # the validated message, base64
    Column("state", String(16), nullable=False),  # pending, sent, failed
    Column("xta_message_id", String(255)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
)
