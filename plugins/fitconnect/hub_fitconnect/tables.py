"""What the subscriber did with each submission (its outcome survives restarts)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_fitconnect"
metadata = MetaData()

received = Table(
    "fitconnect_received",
    metadata,
    Column("submission_id", String(36), primary_key=True),
    Column("destination_id", String(36)),
    Column("case_id", String(36)),
    Column("record_id", String(36)),
    # stored, accepted, rejected; tried again later: unverified, held (our configuration), failed
    Column("state", String(16), nullable=False),
    Column("reason", Text),  # field and rule names only, never the applicant's values
    Column("at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime()),
)


# Submissions the sender made, followed until the subscriber accepts or rejects them.
sent = Table(
    "fitconnect_sent",
    metadata,
    Column("submission_id", String(36), primary_key=True),
    Column("record_id", String(36), nullable=False),
    Column("destination_id", String(36), nullable=False),
    Column("case_id", String(36), nullable=False),
    Column("state", String(16), nullable=False),  # submitted, accepted, rejected
    Column("at", UtcDateTime(), nullable=False),
)
