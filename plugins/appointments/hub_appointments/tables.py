"""Appointments the hub booked: the booking system's ids and what the hub needs to follow them —
never the citizen's contact data (the booking system has it)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_appointments"
metadata = MetaData()

appointments = Table(
    "appointments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("system", String(32), nullable=False),  # "zms" or a registered system's name
    Column("process_id", String(32), nullable=False, unique=True),
    Column("auth_key", String(32), nullable=False),
    Column("office_id", String(64), nullable=False),  # "<system>:<id>" for registered ones
    Column("ars", String(12), nullable=False),
    Column("services", Text, nullable=False),  # JSON [{leika, service_id, count}]
    Column("start_at", UtcDateTime(), nullable=False),
    Column("minutes", Integer),  # how long, when the booking system says
    # reserved → confirmed | expired; confirmed → cancelled | attended | no_show; walk_in
    Column("status", String(16), nullable=False),
    Column("reserved_until", UtcDateTime()),
    Column("channel", String(16), nullable=False),  # online, classic (staff), walk_in
    Column("booked_by", String(64), nullable=False),  # the API client
    Column("trust_level", String(16)),  # when the citizen was logged in (BundID)
    Column("citizen_sha256", String(64)),  # a logged-in citizen's pseudonym ("mine")
    Column("record_id", String(36)),
    Column("cancel_token_sha256", String(64)),
    Column("cancel_reason", String(500)),  # when the booking system called it off
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_appointments_due", "status", "reserved_until"),
    Index("ix_appointments_record", "record_id"),
    Index("ix_appointments_citizen", "citizen_sha256"),
    Index("ix_appointments_office_start", "office_id", "start_at"),
)
