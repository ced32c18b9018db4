"""Facts per case, kept as the case moves (``record_status_changed``): at acceptance the
day, municipality, channel, service, Einsatz and an age band; later delivery, dead letters
and retries. Idempotent: a status told twice changes nothing more."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from hub import utcnow
from hub_evaluation import tables

BERLIN = ZoneInfo("Europe/Berlin")
C = tables.cases
BANDS = ((18, "0-17"), (30, "18-29"), (50, "30-49"), (65, "50-64"), (80, "65-79"))


def age_band(born: date | None, on: date) -> str | None:
    """The band of an age on a day (only the band is kept, never the date)."""
    if born is None:
        return None
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if age < 0:
        return None
    return next((band for limit, band in BANDS if age < limit), "80+")


def record_accepted(hub: Any, record_id: str) -> None:
    record = hub.store.get_record(record_id)
    if record is None:
        return
    local = record.received_at.astimezone(BERLIN)
    born = record.applicant.date_of_birth if record.applicant else None
    row = {
        "record_id": record_id,
        "day": local.date(),
        "ars": record.municipality.ars,
        "channel": record.channel.value,
        "leika": record.service.leika_key,
        "einsatz_id": record.location.einsatz_id if record.location else None,
        "age_band": age_band(born, local.date()),
        "received_at": record.received_at,
    }
    with hub.store.transaction() as conn:
        if conn.execute(select(C.c.record_id).where(C.c.record_id == record_id)).first():
            return
        conn.execute(insert(C).values(row))


def status_changed(hub: Any, record_id: str, status: str, adapter: str | None) -> None:
    """Keep the facts in step with a case's status (the record as a whole, not a delivery)."""
    if status == "accepted" and adapter is None:
        record_accepted(hub, record_id)
        return
    if adapter is None and status == "delivered":
        values: dict[str, Any] = {"delivered_at": utcnow()}
        where = C.c.delivered_at.is_(None)
    elif adapter is None and status == "dead_letter":
        values, where = {"dead_lettered": 1}, C.c.dead_lettered == 0
    elif status == "retry_requested" and adapter is not None:
        values, where = {"retries": C.c.retries + 1}, None
    else:
        return
    query = update(C).where(C.c.record_id == record_id)
    if where is not None:
        query = query.where(where)
    with hub.store.transaction() as conn:
        conn.execute(query.values(**values))


__all__ = ["age_band", "record_accepted", "status_changed"]
