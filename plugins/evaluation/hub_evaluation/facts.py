"""Facts kept as things move: per case (``record_status_changed``) the day, municipality,
channel, service, Einsatz and an age band at acceptance, later delivery, the back office's
final status, a media break, dead letters and retries; per appointment
(``appointment_changed``) its office, day, channel and latest status; per Einsatz
(``einsatz_planned``) its place and the slots each day offers. Idempotent: news told twice
changes nothing more."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub import utcnow
from hub_evaluation import tables

BERLIN = ZoneInfo("Europe/Berlin")
C, A, E, S = tables.cases, tables.appointments, tables.einsaetze, tables.slots
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
        "ozg_id": (record.service.ozg_id or "")[:16] or None,
        "ozg_topic": (record.service.ozg_topic or "")[:64] or None,
        "einsatz_id": record.location.einsatz_id if record.location else None,
        "age_band": age_band(born, local.date()),
        "received_at": record.received_at,
    }
    try:
        with hub.store.transaction() as conn:
            if conn.execute(select(C.c.record_id).where(C.c.record_id == record_id)).first():
                return
            conn.execute(insert(C).values(row))
    except IntegrityError:
        return  # another thread wrote it meanwhile (see status_changed)


def status_changed(hub: Any, record_id: str, status: str, adapter: str | None) -> None:
    """Keep the facts in step with a case's status (the record as a whole, not a delivery;
    a backend's status by what it means: final, media break)."""
    if status == "accepted" and adapter is None:
        record_accepted(hub, record_id)
        return
    values: dict[str, Any]
    if adapter is None and status == "delivered":
        values, where = {"delivered_at": utcnow()}, C.c.delivered_at.is_(None)
    elif adapter is None and status == "dead_letter":
        values, where = {"dead_lettered": 1}, C.c.dead_lettered == 0
    elif status == "retry_requested" and adapter is not None:
        values, where = {"retries": C.c.retries + 1}, None
    elif ":" in status and (traits := hub.status_traits(status)):
        values = {}
        if "media_break" in traits:
            values["media_break"] = 1
        if "final" in traits:
            values["final_at"] = utcnow()
        # A final status counts once (its first report); a media break stays.
        where = C.c.final_at.is_(None) if "final" in traits else None
    else:
        return
    query = update(C).where(C.c.record_id == record_id)
    if where is not None:
        query = query.where(where)
    with hub.store.transaction() as conn:
        if conn.execute(query.values(**values)).rowcount:
            return
        known = conn.execute(select(C.c.record_id).where(C.c.record_id == record_id)).first()
    if known is None:
        # A worker can deliver before the intake thread has told "accepted": write the
        # case's facts now, then what happened to it.
        record_accepted(hub, record_id)
        with hub.store.transaction() as conn:
            conn.execute(query.values(**values))


def appointment_changed(hub: Any, change: Any) -> None:
    """One row per appointment: where and when, how it was booked, what became of it."""
    row = {
        "day": change.start.astimezone(BERLIN).date(),
        "system": change.system,
        "office": f"{change.system}:{change.office}",  # as the appointments API names it
        "ars": change.ars,
        "channel": change.channel,
        "leika": change.leika[0] if change.leika else None,
        # A moved appointment is a booked one on its new day.
        "status": "booked" if change.status == "moved" else change.status,
    }
    with hub.store.transaction() as conn:
        found = conn.execute(
            select(A.c.booked).where(A.c.appointment_id == change.appointment_id)
        ).first()
        booked = int(change.status == "booked" or bool(found and found.booked))
        if found is None:
            conn.execute(
                insert(A).values(appointment_id=change.appointment_id, booked=booked, **row)
            )
        else:
            conn.execute(
                update(A)
                .where(A.c.appointment_id == change.appointment_id)
                .values(booked=booked, **row)
            )


def einsatz_planned(hub: Any, plan: Any) -> None:
    """The Einsatz as planned now: its place, and its days with their offered slots."""
    row = {
        "kind": plan.kind,
        "name": plan.name,
        "place": plan.place,
        "ars": plan.ars,
        "lat": plan.lat,
        "lon": plan.lon,
        "system": plan.system,
        "status": plan.status,
    }
    with hub.store.transaction() as conn:
        known = conn.execute(select(E.c.einsatz_id).where(E.c.einsatz_id == plan.einsatz_id))
        if known.first() is None:
            conn.execute(insert(E).values(einsatz_id=plan.einsatz_id, **row))
        else:
            conn.execute(update(E).where(E.c.einsatz_id == plan.einsatz_id).values(**row))
        conn.execute(delete(S).where(S.c.einsatz_id == plan.einsatz_id))
        if plan.slots:
            conn.execute(
                insert(S),
                [
                    {"einsatz_id": plan.einsatz_id, "day": day, "offered": n}
                    for day, n in sorted(plan.slots.items())
                ],
            )


__all__ = [
    "age_band",
    "appointment_changed",
    "einsatz_planned",
    "record_accepted",
    "status_changed",
]
