"""Facts the reports are made of, written as cases, appointments and Einsätze move — never
personal data (an age band, not a birth date; an office, not a citizen), so the figures
survive the deletion of the records they count."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from hub import UtcDateTime

VERSION_TABLE = "alembic_version_evaluation"
metadata = MetaData()

cases = Table(
    "evaluation_cases",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("day", Date, nullable=False),  # received, local time (Europe/Berlin)
    Column("ars", String(12), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("leika", String(14), nullable=False),
    Column("ozg_id", String(16)),  # the OZG-Leistung and its Themenfeld, where the
    Column("ozg_topic", String(64)),  # catalogue (ozg_catalog) knows the service
    Column("einsatz_id", String(36)),
    Column("age_band", String(8)),  # from the applicant's birth date at intake, if given
    Column("received_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime()),
    Column("dead_lettered", Integer, nullable=False, server_default="0"),
    Column("retries", Integer, nullable=False, server_default="0"),
    # The back office's last word (a status registered as final) and a media break.
    Column("final_at", UtcDateTime()),
    Column("media_break", Integer, nullable=False, server_default="0"),
    Index("ix_evaluation_cases_day", "day"),
)

appointments = Table(
    "evaluation_appointments",
    metadata,
    Column("appointment_id", String(36), primary_key=True),
    Column("day", Date, nullable=False),  # of the start, local time
    Column("system", String(32), nullable=False),
    Column("office", String(64), nullable=False),
    Column("ars", String(12), nullable=False),
    Column("channel", String(16), nullable=False),  # online, classic, walk_in
    Column("leika", String(14)),  # the first service
    Column("booked", Integer, nullable=False, server_default="0"),  # was ever confirmed
    Column("status", String(16), nullable=False),  # the latest
    Index("ix_evaluation_appointments_day", "day"),
)

einsaetze = Table(
    "evaluation_einsaetze",
    metadata,
    Column("einsatz_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("place", String(200), nullable=False),
    Column("ars", String(12), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("system", String(32)),
    Column("status", String(16), nullable=False),
)

slots = Table(
    "evaluation_slots",
    metadata,
    Column("einsatz_id", String(36), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("offered", Integer, nullable=False),
)

costs = Table(
    "evaluation_costs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("ars", String(12), nullable=False),
    Column("einsatz_id", String(36)),  # the costs of one Einsatz, or of a channel
    Column("channel", String(16)),
    Column("staff_hours", Float, nullable=False, server_default="0"),
    Column("hourly_rate_eur", Float, nullable=False, server_default="0"),
    Column("travel_eur", Float, nullable=False, server_default="0"),
    Column("kit_eur", Float, nullable=False, server_default="0"),
    Column("other_eur", Float, nullable=False, server_default="0"),
    Column("note", String(500)),
    Column("entered_by", String(64), nullable=False),
    Column("entered_at", UtcDateTime(), nullable=False),
)
