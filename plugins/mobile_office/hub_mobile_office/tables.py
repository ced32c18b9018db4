"""Deployments (Einsätze) of mobile offices: the plan as given, and its dates for queries."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, MetaData, String, Table, Text

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

# The hub's own slot book for Einsätze no booking system sells. It *is* the booking system
# here, so it keeps what one needs to reach the citizen — until the day is over (purged then).
bookings = Table(
    "mobile_office_bookings",
    metadata,
    Column("process_id", String(32), primary_key=True),
    Column("auth_key", String(32), nullable=False),
    Column("einsatz_id", String(36), nullable=False),
    Column("day", Date, nullable=False),
    Column("start_at", UtcDateTime(), nullable=False),
    Column("slots", Integer, nullable=False),  # consecutive slots it takes
    Column("services", Text, nullable=False),  # JSON [[leika, count]]
    # reserved → confirmed | (lapsed: reserved past reserved_until); → cancelled
    Column("status", String(16), nullable=False),
    Column("reserved_until", UtcDateTime()),
    Column("reason", String(32)),  # the declared eligibility reason (a code, no free text)
    Column("district", String(100)),
    Column("family_name", String(100)),
    Column("email", String(254)),
    Column("telephone", String(40)),
    Column("cancelled_by", String(16)),  # citizen, office (the Einsatz was called off)
    Column("cancel_reason", String(500)),
    # 1 from the office's cancellation until booking_cancelled has been called for it
    Column("to_announce", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_mobile_office_bookings_day", "einsatz_id", "day", "status"),
)
