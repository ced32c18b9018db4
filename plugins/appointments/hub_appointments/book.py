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
from hub import (
    Booking,
    BookingCatalogue,
    BookingContact,
    BookingError,
    BookingOffice,
    BookingService,
    BookingSystem,
    utcnow,
)
from hub_appointments import tables
from hub_appointments.settings import AppointmentsSettings

log = structlog.get_logger("hub.appointments")
CATALOGUE_SECONDS = 300
A = tables.appointments
ACTIVE = ("reserved", "confirmed")


def _bad(field: str, rule: str, message: str, status: int | None = None) -> hub.IntakeRejected:
    """A refusal naming field and rule (400 unless another status says more)."""
    extra = {"status_code": status} if status else {}
    return hub.IntakeRejected.one(field, rule, message, **extra)


@dataclass
class System:
    """One booking system as the hub offers it. ``prefix`` makes its office ids unique
    (``""`` for the configured one, ``"<name>:"`` for registered ones); ``offices`` and
    ``services`` map its own ids to ARS and LeiKa keys (None: the system gives them)."""

    name: str
    api: BookingSystem
    prefix: str = ""
    offices: dict[str, str] | None = None
    services: dict[str, str] | None = None
    cache_seconds: float = CATALOGUE_SECONDS
    _cached: tuple[float, BookingCatalogue] | None = None
    _places: tuple[BookingCatalogue, dict[str, Place]] | None = None

    def catalogue(self) -> BookingCatalogue:
        """Its offices and services, fetched at most every ``cache_seconds``."""
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] >= self.cache_seconds:
            self._cached = (now, self.api.catalogue())
        return self._cached[1]

    def places(self) -> dict[str, Place]:
        """Its offices offered here by their own id, worked out once per catalogue."""
        catalogue = self.catalogue()
        if self._places is not None and self._places[0] is catalogue:
            return self._places[1]
        by_id = {s.id: s for s in catalogue.services}
        offered: dict[str, dict[str, str]] = {}
        names: dict[str, str] = {}
        for oid, sid in sorted(catalogue.slots):
            service = by_id.get(sid)
            leika = self.leika_of(service) if service else None
            if leika:
                offered.setdefault(oid, {})[leika] = sid
                names[leika] = service.name
        found = {}
        for office in catalogue.offices:
            mapped = self.ars_of(office)
            if mapped is not None:
                found[office.id] = Place(
                    self,
                    office.id,
                    self.prefix + office.id,
                    office,
                    mapped,
                    offered.get(office.id, {}),
                    names,
                )
        self._places = (catalogue, found)
        return found

    def ars_of(self, office: BookingOffice) -> str | None:
        return office.ars if self.offices is None else self.offices.get(office.id)

    def leika_of(self, service: BookingService) -> str | None:
        return service.leika if self.services is None else self.services.get(service.id)


@dataclass(frozen=True)
class Place:
    """An office resolved: its system, its own id there, the municipality, what it asks."""

    system: System
    local_id: str
    public_id: str
    office: BookingOffice
    ars: str
    leika: dict[str, str]  # LeiKa key → the system's service id, for services offered here
    names: dict[str, str]  # LeiKa key → the service's name in the booking system


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
    def __init__(self, h: Any, settings: AppointmentsSettings, systems: list[System]):
        self.hub = h
        self.settings = settings
        self.systems = systems

    # --- what is offered ------------------------------------------------------------------

    def places(self, ars: str | None = None, only: System | None = None) -> list[Place]:
        """Every office offered here (mapped to a municipality), across the systems."""
        found = []
        for system in [only] if only else self.systems:
            for place in system.places().values():
                if not ars or place.ars.startswith(ars.rstrip("*")):
                    found.append(place)
        return found

    def offices(self, ars: str | None = None) -> list[dict[str, Any]]:
        items = []
        for place in self.places(ars):
            office = place.office
            items.append(
                {
                    "id": place.public_id,
                    "system": place.system.name,
                    "name": office.name,
                    "address": office.address,
                    "geo": {"lat": office.geo[0], "lon": office.geo[1]} if office.geo else None,
                    "ars": place.ars,
                    "info": office.info,
                    "fields": [
                        {
                            "name": f.name,
                            "label": f.label,
                            "choices": list(f.choices),
                            "required": f.required,
                        }
                        for f in office.fields
                    ],
                    "services": [
                        {"leika": leika, "name": place.names.get(leika, sid)}
                        for leika, sid in sorted(place.leika.items())
                    ],
                }
            )
        return items

    def place(self, office_id: str) -> Place:
        for system in self.systems:
            if system.prefix and not office_id.startswith(system.prefix):
                continue
            if not system.prefix and ":" in office_id:
                continue
            local = office_id[len(system.prefix) :]
            if system.offices is not None and local not in system.offices:
                break
            place = system.places().get(local)
            if place is not None:
                return place
            break
        raise _bad("office", "unknown", f"office {office_id} is not offered here", 404)

    def _wanted(self, place: Place, services: list[tuple[str, int]]) -> Wanted:
        if not services:
            raise _bad("services", "required", "at least one LeiKa key")
        system = []
        for i, (leika, count) in enumerate(services):
            if not 1 <= count <= 9:
                raise _bad(f"services[{i}].count", "range", "between 1 and 9")
            sid = place.leika.get(leika)
            if sid is None and not self._bookable(place.system, leika):
                raise _bad(f"services[{i}].leika", "not_bookable", f"{leika} is not bookable")
            if sid is None:
                raise _bad(
                    f"services[{i}].leika",
                    "not_offered_here",
                    f"{leika} is not bookable at office {place.public_id}",
                )
            system.append((sid, count))
        return Wanted(tuple(services), tuple(system))

    @staticmethod
    def _bookable(system: System, leika: str) -> bool:
        """Whether the system books this service anywhere."""
        return any(system.leika_of(s) == leika for s in system.catalogue().services)

    @staticmethod
    def _answers(place: Place, answers: dict[str, str]) -> dict[str, str]:
        """The citizen's answers to the office's fields: required ones given, choices kept."""
        fields = {f.name: f for f in place.office.fields}
        for name in answers:
            if name not in fields:
                raise _bad(f"answers.{name}", "unknown", "this office does not ask for it")
        for f in place.office.fields:
            value = answers.get(f.name)
            if value is None or not value.strip():
                if f.required:
                    raise _bad(f"answers.{f.name}", "required", f"{f.label}: required here")
                continue
            if len(value) > 200:
                raise _bad(f"answers.{f.name}", "max_length", "at most 200 characters")
            if f.choices and value not in f.choices:
                raise _bad(f"answers.{f.name}", "choice", f"one of: {', '.join(f.choices)}")
        return {k: v.strip() for k, v in answers.items() if v.strip()}

    def free_slots(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        first: date,
        last: date,
        answers: dict[str, str] | None = None,
    ) -> list[datetime]:
        place = self.place(office_id)
        wanted = self._wanted(place, services)
        given = self._answers(place, answers or {})
        today = datetime.now(UTC).date()
        if last < first:
            raise _bad("to", "order", "must not be before from")
        if first < today - timedelta(days=1):
            raise _bad("from", "past", "must not be in the past")
        if (last - first).days >= self.settings.max_days:
            raise _bad("to", "range", f"at most {self.settings.max_days} days")
        return place.system.api.free_slots(place.local_id, list(wanted.system), first, last, given)

    # --- reserve, confirm, cancel ---------------------------------------------------------

    def reserve(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        start: datetime,
        *,
        channel: str,
        booked_by: str,
        answers: dict[str, str] | None = None,
        trust_level: str | None = None,
        citizen: str | None = None,
        record_id: str | None = None,
    ) -> dict[str, Any]:
        """Reserve ``start``; ``citizen`` is the pseudonym of a logged-in citizen (their
        appointments are listed to them), ``trust_level`` what their login vouched for."""
        place = self.place(office_id)
        wanted = self._wanted(place, services)
        given = self._answers(place, answers or {})
        if start.tzinfo is None:
            raise _bad("start", "timezone", "give the time with its offset (RFC 3339)")
        if start <= datetime.now(UTC):
            raise _bad("start", "past", "must be in the future")
        if record_id is not None and self.hub.store.record_owner(record_id) is None:
            raise _bad("record_id", "unknown", "no such record", 404)
        booking = place.system.api.reserve(place.local_id, list(wanted.system), start, given)
        now = utcnow()
        row = {
            "id": str(uuid.uuid4()),
            "system": place.system.name,
            "process_id": booking.process_id,
            "auth_key": booking.auth_key,
            "office_id": place.public_id,
            "ars": place.ars,
            "services": wanted.as_json(),
            "start_at": booking.start,
            "minutes": booking.minutes,
            "status": "reserved",
            "reserved_until": now + timedelta(minutes=self.settings.reservation_minutes),
            "channel": channel,
            "booked_by": booked_by,
            "trust_level": trust_level,
            "citizen_sha256": citizen,
            "record_id": record_id,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.hub.store.transaction() as conn:
                conn.execute(insert(A).values(row))
        except Exception:
            self._release(row)  # the hub could not keep it: give the slot back
            raise
        log.info("appointment_reserved", appointment=row["id"], channel=channel)
        return _public(row)

    def walk_in(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        *,
        booked_by: str,
        record_id: str | None = None,
    ) -> dict[str, Any]:
        """A citizen who came without an appointment, served now: recorded like one (for the
        day board and the evaluation), never sent to the booking system."""
        place = self.place(office_id)
        wanted = self._wanted(place, services)
        if record_id is not None and self.hub.store.record_owner(record_id) is None:
            raise _bad("record_id", "unknown", "no such record", 404)
        now = utcnow()
        row = {
            "id": str(uuid.uuid4()),
            "system": place.system.name,
            "process_id": f"walk-in:{uuid.uuid4().hex[:23]}",
            "auth_key": "",
            "office_id": place.public_id,
            "ars": place.ars,
            "services": wanted.as_json(),
            "start_at": now,
            "status": "walk_in",
            "channel": "walk_in",
            "booked_by": booked_by,
            "record_id": record_id,
            "created_at": now,
            "updated_at": now,
        }
        with self.hub.store.transaction() as conn:
            conn.execute(insert(A).values(row))
        self._changed(row, "walk_in")
        return _public(row)

    def confirm(self, appointment_id: str, contact: BookingContact) -> dict[str, Any]:
        """Confirm a reservation with the citizen's contact data (passed on, not kept);
        returns the appointment with its cancellation token (shown once)."""
        row = self._row(appointment_id)
        if row["status"] == "reserved" and row["reserved_until"] <= utcnow():
            self._expire(row)
            row = self._row(appointment_id)
        if row["status"] != "reserved":
            raise _bad("appointment", row["status"], f"the appointment is {row['status']}", 409)
        self._system(row).api.confirm(self._booking(row), contact)
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
        self._changed(row, "booked")
        return {**self.get(appointment_id), "cancel_token": token}

    def cancel(self, appointment_id: str, *, token: str | None, staff: bool = False) -> dict:
        """Cancel by the citizen's link (``token``, valid until the start) or by staff."""
        row = self._row(appointment_id)
        if not staff:
            stored = row["cancel_token_sha256"]
            if not token or not stored or not secrets.compare_digest(_digest(token), stored):
                raise _bad("token", "invalid", "this cancellation link is not valid", 403)
        if row["status"] not in ACTIVE:
            raise _bad("appointment", row["status"], f"the appointment is {row['status']}", 409)
        if row["start_at"] <= utcnow():
            raise _bad("appointment", "started", "it has begun or passed", 409)
        self._system(row).api.cancel(self._booking(row))
        self._set(appointment_id, row["status"], status="cancelled", cancel_token_sha256=None)
        log.info("appointment_cancelled", appointment=appointment_id, by_staff=staff)
        self._changed(row, "cancelled")
        return self.get(appointment_id)

    def cancelled_by_system(self, system: str, process_id: str, reason: str) -> bool:
        """The booking system called the appointment off (the Einsatz was cancelled): the
        row says so with the reason, and its record learns it."""
        with self.hub.store.reading() as conn:
            found = conn.execute(
                select(A).where(A.c.system == system, A.c.process_id == process_id)
            ).first()
        if found is None:
            return False
        row = dict(found._mapping)
        if row["status"] not in ACTIVE:
            return False
        if not self._set(
            row["id"],
            row["status"],
            status="cancelled",
            cancel_token_sha256=None,
            cancel_reason=reason[:500],
        ):
            return False
        log.info("appointment_cancelled", appointment=row["id"], by_system=system)
        self._changed(row, "cancelled", reason)
        return True

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
        self._changed(row, outcome)
        return self.get(appointment_id)

    def _changed(self, row: dict[str, Any], status: str, reason: str | None = None) -> None:
        """Tell the plugins (``appointment_changed``; reports count it) and the record."""
        self.hub.appointment_changed(
            hub.AppointmentChange(
                appointment_id=row["id"],
                status=status,
                system=row["system"],
                office=row["office_id"].removeprefix(f"{row['system']}:"),
                ars=row["ars"],
                start=row["start_at"],
                channel=row["channel"],
                leika=tuple(s["leika"] for s in json.loads(row["services"])),
                record_id=row["record_id"],
                reason=reason,
                place=self._place_words(row["office_id"]),
            )
        )
        self._tell_record(row, status, reason)

    def _place_words(self, office_id: str) -> str:
        """The office's name and address for messages ("" when it is gone from the
        catalogue, e.g. a cancelled Einsatz)."""
        try:
            office = self.place(office_id).office
        except Exception:  # words for a message, never a reason to fail
            return ""
        return ", ".join(part for part in (office.name, office.address) if part)

    def _tell_record(self, row: dict[str, Any], status: str, reason: str | None = None) -> None:
        """A record the appointment belongs to shows what became of it in its history."""
        if row["record_id"]:
            detail = f"Termin {row['start_at'].isoformat()} (Ort {row['office_id']})"
            self.hub.report_status(
                row["record_id"],
                f"appointment:{status}",
                f"{detail}: {reason}" if reason else detail,
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
        if row["status"] in ("confirmed", "attended", "no_show", "walk_in"):
            self._tell_record(row, "booked" if row["status"] == "confirmed" else row["status"])
        return self.get(appointment_id)

    def get(self, appointment_id: str) -> dict[str, Any]:
        return _public(self._row(appointment_id))

    def on_day(self, office_id: str, first: datetime, last: datetime) -> list[dict[str, Any]]:
        """An office's appointments and walk-ins between two times (a day board), in order;
        lapsed reservations left out."""
        with self.hub.store.reading() as conn:
            rows = conn.execute(
                select(A)
                .where(
                    A.c.office_id == office_id,
                    A.c.start_at >= first,
                    A.c.start_at < last,
                    A.c.status != "expired",
                )
                .order_by(A.c.start_at)
            ).all()
        return [_public(dict(r._mapping)) for r in rows]

    def mine(self, citizen: str) -> list[dict[str, Any]]:
        """A logged-in citizen's appointments (by their pseudonym), the coming ones first."""
        with self.hub.store.reading() as conn:
            rows = conn.execute(
                select(A)
                .where(A.c.citizen_sha256 == citizen, A.c.status != "expired")
                .order_by(A.c.start_at.desc())
                .limit(100)
            ).all()
        now = utcnow()
        found = [dict(r._mapping) for r in rows]
        coming = sorted((r for r in found if r["start_at"] >= now), key=lambda r: r["start_at"])
        return [_public(r) for r in coming + [r for r in found if r["start_at"] < now]]

    def calendar(self, appointment_id: str) -> bytes:
        """The appointment as an iCalendar object (RFC 5545), for the citizen's calendar."""
        from hub_appointments.ics import appointment_ics

        row = self._row(appointment_id)
        if row["status"] in ("expired", "walk_in"):
            raise _bad("appointment", row["status"], f"the appointment is {row['status']}", 409)
        try:
            place = self.place(row["office_id"])
        except hub.IntakeRejected:
            place = None  # the office is no longer offered: the time still stands
        return appointment_ics(row, place.office if place else None, self._service_names(row))

    def _service_names(self, row: dict[str, Any]) -> list[str]:
        system = self._system(row)
        names = {s.id: s.name for s in system.catalogue().services}
        return [
            f"{s['count']} × {names.get(s['service_id'], s['leika'])}"
            if s["count"] > 1
            else names.get(s["service_id"], s["leika"])
            for s in json.loads(row["services"])
        ]

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
            self._release(row)
            log.info("appointment_expired", appointment=row["id"])

    def _release(self, row: dict[str, Any]) -> None:
        try:
            self._system(row).api.cancel(self._booking(row))  # a reserved slot: no mail
        except (BookingError, hub.TransientError, LookupError) as exc:  # it lapses anyway
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

    def _system(self, row: dict[str, Any]) -> System:
        for system in self.systems:
            if system.name == row["system"]:
                return system
        raise _bad("appointment", "system_gone", f"booking system {row['system']} is gone", 503)

    def _booking(self, row: dict[str, Any]) -> Booking:
        system = self._system(row)
        services = tuple((s["service_id"], s["count"]) for s in json.loads(row["services"]))
        return Booking(
            row["process_id"],
            row["auth_key"],
            row["office_id"][len(system.prefix) :],
            row["start_at"],
            services,
            "",
        )


def citizen_pseudonym(method: str, key: str) -> str:
    """What the hub keeps of a logged-in citizen: a digest of the login's stable key."""
    return hashlib.sha256(f"{method}:{key}".encode()).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """What clients see: no auth key, no token digest, no pseudonym."""
    return {
        "id": row["id"],
        "status": row["status"],
        "office": row["office_id"],
        "system": row["system"],
        "ars": row["ars"],
        "services": [
            {"leika": s["leika"], "count": s["count"]} for s in json.loads(row["services"])
        ],
        "start": row["start_at"].isoformat(),
        "reserved_until": row["reserved_until"].isoformat() if row.get("reserved_until") else None,
        "channel": row["channel"],
        "trust_level": row.get("trust_level"),
        "record_id": row["record_id"],
        "cancel_reason": row.get("cancel_reason"),
    }


__all__ = ["Appointments", "System", "Wanted", "citizen_pseudonym"]
