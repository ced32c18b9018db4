"""Messages the hub sent to Meldebehörden, so their answers find their records."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table

from hub.core.store.schema import UtcDateTime

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
