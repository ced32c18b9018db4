"""One row of facts per case, written as the case moves — never personal data (an age band,
not a birth date), so the figures survive the deletion of the records they count."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, MetaData, String, Table

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
    Column("einsatz_id", String(36)),
    Column("age_band", String(8)),  # from the applicant's birth date at intake, if given
    Column("received_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime()),
    Column("dead_lettered", Integer, nullable=False, server_default="0"),
    Column("retries", Integer, nullable=False, server_default="0"),
    Index("ix_evaluation_cases_day", "day"),
)
