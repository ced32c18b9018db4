"""The hub's side of booking: which offices and services it offers (the mapping to ARS and
LeiKa keys), free slots, reserve → confirm with the hub's own expiry, cancellation by link or by
staff, and the link between an appointment and a record.

Every change is one row in ``appointments``; the citizen's contact data only passes through to
the booking system. Bad input raises :class:`hub.IntakeRejected` naming field and rule, and
changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import insert, select, update

import hub
from hub import utcnow
from hub_appointments import tables
from hub_appointments.contract import Booking, BookingError, BookingSystem, Catalogue, Contact
from hub_appointments.settings import AppointmentsSettings

log = structlog.get_logger("hub.appointments")
CATALOGUE_SECONDS = 300
A = tables.appointments


def _bad(field: str, rule: str, message: str, status: int | None = None) -> hub.IntakeRejected:
    """A refusal naming field and rule (400 unless another status says more)."""
    extra = {"status_code": status} if status else {}
    return hub.IntakeRejected.one(field, rule, message, **extra)


@dataclass(frozen=True)
class Wanted:
    """Services asked for: LeiKa keys with counts, and their ids in the booking system."""

    leika: tuple[tuple[str, int], ...]
    system: tuple[tuple[str, int], ...]

    def as_json(self) -> str:
        return json.dumps(
            [
                {"leika": lk, "service_id": sid, "count": n}
                for (lk, n), (sid, _) in zip(self.leika, self.system, strict=True)
            ]
        )


class Appointments:
    def __init__(self, h: Any, settings: AppointmentsSettings, system: BookingSystem):
        self.hub = h
        self.settings = settings
        self.system = system
        self._by_leika = {leika: sid for sid, leika in settings.services.items()}
        self._catalogue: tuple[float, Catalogue] | None = None

    def catalogue(self) -> Catalogue:
        """The booking system's offices and services, fetched at most every five minutes."""
        now = time.monotonic()
        if self._catalogue is None or now - self._catalogue[0] > CATALOGUE_SECONDS:
            self._catalogue = (now, self.system.catalogue())
        return self._catalogue[1]

    # --- what is offered ------------------------------------------------------------------

    def offices(self, ars: str | None = None) -> list[dict[str, Any]]:
        found = self.catalogue()
        names = {s.id: s.name for s in found.services}
        items = []
        for office in found.offices:
            mapped = self.settings.offices.get(office.id)
            if mapped is None or (ars and not mapped.ars.startswith(ars.rstrip("*"))):
                continue
            offered = [
                {"leika": self.settings.services[sid], "name": names.get(sid, sid)}
                for (oid, sid) in sorted(found.slots)
                if oid == office.id and sid in self.settings.services
            ]
            items.append(
                {
                    "id": office.id,
                    "name": office.name,
                    "address": office.address,
                    "geo": {"lat": office.geo[0], "lon": office.geo[1]} if office.geo else None,
                    "ars": mapped.ars,
                    "services": offered,
                }
            )
        return items

    def _wanted(self, office_id: str, services: list[tuple[str, int]]) -> Wanted:
        if office_id not in self.settings.offices:
            raise _bad("office", "unknown", f"office {office_id} is not offered here", 404)
        if not services:
            raise _bad("services", "required", "at least one LeiKa key")
        system = []
        for i, (leika, count) in enumerate(services):
            sid = self._by_leika.get(leika)
            if sid is None:
                raise _bad(f"services[{i}].leika", "not_bookable", f"{leika} is not bookable")
            if not 1 <= count <= 9:
                raise _bad(f"services[{i}].count", "range", "between 1 and 9")
            if (office_id, sid) not in self.catalogue().slots:
                raise _bad(
                    f"services[{i}].leika",
                    "not_offered_here",
                    f"{leika} is not offered at office {office_id}",
                )
            system.append((sid, count))
        return Wanted(tuple(services), tuple(system))

    def free_slots(
        self, office_id: str, services: list[tuple[str, int]], first: date, last: date
    ) -> list[datetime]:
        wanted = self._wanted(office_id, services)
        today = datetime.now(UTC).date()
        if last < first:
            raise _bad("to", "order", "must not be before from")
        if first < today - timedelta(days=1):
            raise _bad("from", "past", "must not be in the past")
        if (last - first).days >= self.settings.max_days:
            raise _bad("to", "range", f"at most {self.settings.max_days} days")
        return self.system.free_slots(office_id, list(wanted.system), first, last)

    # --- reserve, confirm, cancel ---------------------------------------------------------

    def reserve(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        start: datetime,
        *,
        channel: str,
        booked_by: str,
        trust_level: str | None = None,
        record_id: str | None = None,
    ) -> dict[str, Any]:
        wanted = self._wanted(office_id, services)
        if start.tzinfo is None:
            raise _bad("start", "timezone", "give the time with its offset (RFC 3339)")
        if start <= datetime.now(UTC):
            raise _bad("start", "past", "must be in the future")
        if record_id is not None and self.hub.store.record_owner(record_id) is None:
            raise _bad("record_id", "unknown", "no such record", 404)
        booking = self.system.reserve(office_id, list(wanted.system), start)
        now = utcnow()
        row = {
            "id": str(uuid.uuid4()),
            "system": self.settings.system,
            "process_id": booking.process_id,
            "auth_key": booking.auth_key,
            "office_id": office_id,
            "ars": self.settings.offices[office_id].ars,
            "services": wanted.as_json(),
            "start_at": booking.start,
            "status": "reserved",
            "reserved_until": now + timedelta(minutes=self.settings.reservation_minutes),
            "channel": channel,
            "booked_by": booked_by,
            "trust_level": trust_level,
            "record_id": record_id,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.hub.store.transaction() as conn:
                conn.execute(insert(A).values(row))
        except Exception:
            self._release(booking)  # the hub could not keep it: give the slot back
            raise
        log.info("appointment_reserved", appointment=row["id"], channel=channel)
        return _public(row)

    def confirm(self, appointment_id: str, contact: Contact) -> dict[str, Any]:
        """Confirm a reservation with the citizen's contact data (passed on, not kept);
        returns the appointment with its cancellation token (shown once)."""
        row = self._row(appointment_id)
        if row["status"] == "reserved" and row["reserved_until"] <= utcnow():
            self._expire(row)
            row = self._row(appointment_id)
        if row["status"] != "reserved":
            raise _bad("appointment", row["status"], f"the appointment is {row['status']}", 409)
        booking = self._booking(row)
        self.system.confirm(booking, contact)
        token = secrets.token_urlsafe(24)
        changed = self._set(
            appointment_id,
            "reserved",
            status="confirmed",
            reserved_until=None,
            cancel_token_sha256=_digest(token),
        )
        if not changed:  # expired or cancelled meanwhile by another request
            raise _bad("appointment", "changed", "the appointment changed meanwhile", 409)
        log.info("appointment_confirmed", appointment=appointment_id)
        self._tell_record(row, "booked")
        return {**self.get(appointment_id), "cancel_token": token}

    def cancel(self, appointment_id: str, *, token: str | None, staff: bool = False) -> dict:
        """Cancel by the citizen's link (``token``, valid until the start) or by staff."""
        row = self._row(appointment_id)
        if not staff:
            stored = row["cancel_token_sha256"]
            if not token or not stored or not secrets.compare_digest(_digest(token), stored):
                raise _bad("token", "invalid", "this cancellation link is not valid", 403)
        if row["status"] not in ("reserved", "confirmed"):
            raise _bad("appointment", row["status"], f"the appointment is {row['status']}", 409)
        if row["start_at"] <= utcnow():
            raise _bad("appointment", "started", "it has begun or passed", 409)
        self.system.cancel(self._booking(row))
        self._set(appointment_id, row["status"], status="cancelled", cancel_token_sha256=None)
        log.info("appointment_cancelled", appointment=appointment_id, by_staff=staff)
        self._tell_record(row, "cancelled")
        return self.get(appointment_id)

    def attendance(self, appointment_id: str, *, attended: bool) -> dict[str, Any]:
        """Staff record after the start whether the citizen came (``attended``/``no_show``)."""
        row = self._row(appointment_id)
        if row["status"] != "confirmed":
            raise _bad("appointment", row["status"], f"the appointment is {row['status']}", 409)
        if row["start_at"] > utcnow():
            raise _bad("attended", "not_yet", "only once the appointment has begun", 409)
        outcome = "attended" if attended else "no_show"
        if not self._set(appointment_id, "confirmed", status=outcome, cancel_token_sha256=None):
            raise _bad("appointment", "changed", "the appointment changed meanwhile", 409)
        self._tell_record(row, outcome)
        return self.get(appointment_id)

    def _tell_record(self, row: dict[str, Any], status: str) -> None:
        """A record the appointment belongs to shows what became of it in its history."""
        if row["record_id"]:
            self.hub.report_status(
                row["record_id"],
                f"appointment:{status}",
                f"Termin {row['start_at'].isoformat()} (Ort {row['office_id']})",
                key=f"appointment:{row['id']}:{status}",
            )

    def link(self, appointment_id: str, record_id: str) -> dict[str, Any]:
        if self.hub.store.record_owner(record_id) is None:
            raise _bad("record_id", "unknown", "no such record", 404)
        self._row(appointment_id)
        with self.hub.store.transaction() as conn:
            conn.execute(
                update(A)
                .where(A.c.id == appointment_id)
                .values(record_id=record_id, updated_at=utcnow())
            )
        row = self._row(appointment_id)
        if row["status"] in ("confirmed", "attended", "no_show"):
            self._tell_record(row, "booked" if row["status"] == "confirmed" else row["status"])
        return self.get(appointment_id)

    def get(self, appointment_id: str) -> dict[str, Any]:
        return _public(self._row(appointment_id))

    # --- expiry ---------------------------------------------------------------------------

    def expire_due(self) -> int:
        """Reservations past their time lapse here and are given back to the booking system."""
        with self.hub.store.reading() as conn:
            due = conn.execute(
                select(A).where(A.c.status == "reserved", A.c.reserved_until <= utcnow())
            ).all()
        for row in due:
            self._expire(dict(row._mapping))
        return len(due)

    def _expire(self, row: dict[str, Any]) -> None:
        if self._set(row["id"], "reserved", status="expired"):
            self._release(self._booking(row))
            log.info("appointment_expired", appointment=row["id"])

    def _release(self, booking: Booking) -> None:
        try:
            self.system.cancel(booking)  # a reserved slot: ZMS sends no mail for it
        except (BookingError, hub.TransientError) as exc:  # it lapses there on its own anyway
            log.warning("release_failed", error=type(exc).__name__)

    # --- rows -----------------------------------------------------------------------------

    def _row(self, appointment_id: str) -> dict[str, Any]:
        with self.hub.store.reading() as conn:
            row = conn.execute(select(A).where(A.c.id == appointment_id)).first()
        if row is None:
            raise _bad("appointment", "unknown", "no such appointment", 404)
        return dict(row._mapping)

    def _set(self, appointment_id: str, expected: str, **values: Any) -> bool:
        """Change a row only if it is still in ``expected`` (two requests never both win)."""
        with self.hub.store.transaction() as conn:
            done = conn.execute(
                update(A)
                .where(A.c.id == appointment_id, A.c.status == expected)
                .values(updated_at=utcnow(), **values)
            ).rowcount
        return bool(done)

    def _booking(self, row: dict[str, Any]) -> Booking:
        services = tuple((s["service_id"], s["count"]) for s in json.loads(row["services"]))
        return Booking(
            row["process_id"], row["auth_key"], row["office_id"], row["start_at"], services, ""
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """What clients see: no auth key, no token digest."""
    return {
        "id": row["id"],
        "status": row["status"],
        "office": row["office_id"],
        "ars": row["ars"],
        "services": [
            {"leika": s["leika"], "count": s["count"]} for s in json.loads(row["services"])
        ],
        "start": row["start_at"].isoformat(),
        "reserved_until": row["reserved_until"].isoformat() if row["reserved_until"] else None,
        "channel": row["channel"],
        "trust_level": row["trust_level"],
        "record_id": row["record_id"],
    }


__all__ = ["Appointments", "Wanted"]
