"""The hub's own slot book for Einsätze that no booking system of the municipality sells,
offered as a :class:`hub.BookingSystem` (``register_booking_systems``), so citizens and staff
book them through the appointments API like any office.

The rules of an Einsatz's ``booking`` section hold at every reserve, checked inside the write
transaction (two citizens never both get the last desk):

* capacity — slots of ``slot_minutes`` within the hours, ``desks`` citizens at a time, at most
  ``per_day`` bookings a day; a booking of n services takes n consecutive slots;
* eligibility — home visits (or any Einsatz naming ``reasons``) only with a declared reason;
* district — with ``districts``, citizens of other parts of town never book it (``only``:
  home visits batched by part of town) or only in its last days (``prefer``: the Moers lesson,
  a district's slot is not just extra capacity for everyone);
* the booking window (``opens_days_before``, ``closes_hours_before``).

Reservations hold a slot for ``HOLD`` and then lapse by themselves (they stop counting).
Contact data kept for a confirmed booking (the office must be able to call when an Einsatz is
called off) is purged once the day is over.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, bindparam, func, insert, or_, select, update

import hub
from hub import utcnow
from hub_mobile_office import tables
from hub_mobile_office.model import BERLIN, Einsatz

log = structlog.get_logger("hub.mobile_office")
NAME = "mobile_office"
HOLD = timedelta(minutes=20)  # a little longer than the appointments plugin holds one
B, E = tables.bookings, tables.einsaetze
ACTIVE = ("reserved", "confirmed")
# Bookings that take desks: confirmed ones and reservations still held (built once: the
# slot query runs it for every question).
OCCUPANCY = select(B.c.start_at, B.c.slots, B.c.day).where(
    B.c.einsatz_id == bindparam("einsatz"),
    B.c.day >= bindparam("first"),
    B.c.day <= bindparam("last"),
    or_(
        B.c.status == "confirmed",
        and_(B.c.status == "reserved", B.c.reserved_until > bindparam("now")),
    ),
)
# Why a confirmation found nothing to confirm: the status found → (code, words).
CONFIRM_REFUSED = {
    "reserved": ("reservationExpired", "lapsed"),
    "confirmed": ("alreadyConfirmed", "confirmed already"),
    "cancelled": ("appointmentCanceled", "cancelled"),
}
KIND_WORDS = {
    "popup": "Pop-up-Bürgerbüro",
    "buergermobil": "Bürgermobil",
    "koffer_partner": "Bürgerkoffer",
    "home_visit": "Hausbesuch",
}
REASON_WORDS = {
    "mobility_restricted": "Ich kann wegen einer Einschränkung nicht ins Bürgerbüro kommen",
    "care_home_resident": "Ich lebe in einer Pflegeeinrichtung",
}


class SlotBook:
    def __init__(
        self,
        h: Any,
        bring: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.hub = h
        self.bring = bring or {}
        self.clock = clock  # tests move it to let reservations lapse
        self._parsed: dict[str, tuple[datetime, Einsatz]] = {}
        self._catalogue: tuple[Any, hub.BookingCatalogue] | None = None

    # --- the booking system's calls --------------------------------------------------------

    def catalogue(self) -> hub.BookingCatalogue:
        """Bookable Einsätze (planned, with booking rules, not over) as offices."""
        with self.hub.store.reading() as conn:
            # Changed when a plan changes, and each day (Einsätze that are over drop out).
            version = (
                *conn.execute(
                    select(func.count(), func.max(E.c.updated_at)).where(E.c.status == "planned")
                ).one(),
                self._today(),
            )
            if self._catalogue is not None and self._catalogue[0] == version:
                return self._catalogue[1]
            rows = conn.execute(
                select(E.c.id, E.c.plan, E.c.updated_at).where(
                    E.c.status == "planned", E.c.last_day >= self._today()
                )
            ).all()
        offices, services, slots = [], {}, {}
        for row in rows:
            einsatz = self._parse(row.id, row.plan, row.updated_at)
            if einsatz.booking is None:
                continue
            offices.append(self._office(row.id, einsatz))
            for leika in einsatz.services:
                named = self.bring.get(leika, {}).get("name")
                services[leika] = hub.BookingService(leika, named or leika, 9, (), leika)
                slots[(row.id, leika)] = 1
        found = hub.BookingCatalogue(tuple(offices), tuple(services.values()), slots)
        self._catalogue = (version, found)
        return found

    def free_slots(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        first: date,
        last: date,
        answers: Mapping[str, str] = {},
    ) -> list[datetime]:
        einsatz = self._einsatz(office_id)
        rules = einsatz.booking
        assert rules is not None
        own = self._eligible(einsatz, answers)
        need = self._need(einsatz, services)
        now = self.clock()
        today = self._today()
        last = min(last, today + timedelta(days=rules.opens_days_before))
        days = [
            d
            for d in einsatz.days_between(max(first, today), last)
            if own or (d - today).days <= rules.open_to_all_days_before
        ]
        if not days:
            return []
        cap = rules.per_day or einsatz.slots_per_day
        with self.hub.store.reading() as conn:
            taken, per_day = self._occupancy(conn, office_id, einsatz, days[0], days[-1], now)
        free = []
        for day in days:
            if cap and per_day[day] >= cap:
                continue
            for start in self._starts(einsatz, day, need):
                if start - timedelta(hours=rules.closes_hours_before) <= now:
                    continue
                if all(taken[s] < rules.desks for s in self._covered(einsatz, start, need)):
                    free.append(start)
        return free

    def reserve(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        start: datetime,
        answers: Mapping[str, str] = {},
    ) -> hub.Booking:
        einsatz = self._einsatz(office_id)
        rules = einsatz.booking
        assert rules is not None
        own = self._eligible(einsatz, answers)
        need = self._need(einsatz, services)
        start = start.astimezone(UTC)
        day = start.astimezone(BERLIN).date()
        now = self.clock()
        today = self._today()
        if not einsatz.days_between(day, day) or start not in self._starts(einsatz, day, need):
            raise hub.SlotTaken("slotNotOffered", "the Einsatz offers no such slot", 422)
        if (day - today).days > rules.opens_days_before:
            raise hub.SlotTaken("notYetOpen", "this day cannot be booked yet", 422)
        if start - timedelta(hours=rules.closes_hours_before) <= now:
            raise hub.SlotTaken("bookingClosed", "booking for this slot has closed", 422)
        if not own and (day - today).days > rules.open_to_all_days_before:
            raise hub.NotEligible(
                "district_first",
                f"until {rules.open_to_all_days_before} days before, this day is for the "
                f"districts {', '.join(rules.districts)}",
                field="answers.district",
            )
        row = {
            "process_id": uuid.uuid4().hex,
            "auth_key": secrets.token_hex(8),
            "einsatz_id": office_id,
            "day": day,
            "start_at": start,
            "slots": need,
            "services": json.dumps(services),
            "status": "reserved",
            "reserved_until": now + HOLD,
            "reason": answers.get("reason"),
            "district": answers.get("district"),
            "created_at": now,
            "updated_at": now,
        }
        with self.hub.store.transaction() as conn:
            # PostgreSQL: one booking at a time per Einsatz (SQLite: BEGIN IMMEDIATE already).
            planned = conn.execute(
                select(E.c.status).where(E.c.id == office_id).with_for_update()
            ).scalar()
            if planned != "planned":
                raise hub.UnknownBooking("officeNotFound", "the Einsatz is not planned", 404)
            taken, per_day = self._occupancy(conn, office_id, einsatz, day, day, now)
            cap = rules.per_day or einsatz.slots_per_day
            if cap and per_day[day] >= cap:
                raise hub.SlotTaken("dayFull", f"{cap} bookings a day, and the day is full")
            if any(taken[s] >= rules.desks for s in self._covered(einsatz, start, need)):
                raise hub.SlotTaken("capacity", "the slot is fully booked (past capacity)")
            conn.execute(insert(B).values(row))
        log.info("slot_reserved", einsatz=office_id, slots=need)
        return self._booking(row, einsatz)

    def confirm(self, booking: hub.Booking, contact: hub.BookingContact) -> hub.Booking:
        now = self.clock()
        with self.hub.store.transaction() as conn:
            done = conn.execute(
                update(B)
                .where(
                    B.c.process_id == booking.process_id,
                    B.c.auth_key == booking.auth_key,
                    B.c.status == "reserved",
                    B.c.reserved_until > now,
                )
                .values(
                    status="confirmed",
                    reserved_until=None,
                    family_name=contact.family_name,
                    email=contact.email,
                    telephone=contact.telephone,
                    updated_at=now,
                )
            ).rowcount
        if not done:
            found = self.details(booking.process_id, booking.auth_key)
            code, what = CONFIRM_REFUSED.get(found.status, CONFIRM_REFUSED["reserved"])
            raise hub.BookingError(code, f"the reservation is {what}")
        return self.details(booking.process_id, booking.auth_key)

    def cancel(self, booking: hub.Booking) -> None:
        found = self.details(booking.process_id, booking.auth_key)
        if found.status == "cancelled":
            return
        if found.start <= self.clock():
            raise hub.NotCancellable("appointmentCanNotBeCanceled", "it has begun or passed")
        with self.hub.store.transaction() as conn:
            conn.execute(
                update(B)
                .where(B.c.process_id == booking.process_id, B.c.status.in_(ACTIVE))
                .values(
                    status="cancelled",
                    cancelled_by="citizen",
                    family_name=None,
                    email=None,
                    telephone=None,
                    updated_at=self.clock(),
                )
            )

    def details(self, process_id: str, auth_key: str) -> hub.Booking:
        with self.hub.store.reading() as conn:
            row = conn.execute(select(B).where(B.c.process_id == process_id)).first()
        if row is None or not secrets.compare_digest(row.auth_key, auth_key):
            raise hub.UnknownBooking("appointmentNotFound", "no such booking", 404)
        return self._booking(dict(row._mapping), self._einsatz(row.einsatz_id, any_status=True))

    # --- for the planner and the office ----------------------------------------------------

    @staticmethod
    def cancel_einsatz(conn: Any, einsatz_id: str, reason: str) -> list[str]:
        """The Einsatz is called off (inside the planner's transaction): its coming bookings
        are cancelled by the office — the contact stays for the call list until the day is
        over. Returns their process ids."""
        now = utcnow()
        ids = [
            r.process_id
            for r in conn.execute(
                select(B.c.process_id).where(
                    B.c.einsatz_id == einsatz_id, B.c.status.in_(ACTIVE), B.c.start_at > now
                )
            )
        ]
        if ids:
            conn.execute(
                update(B)
                .where(B.c.process_id.in_(ids))
                .values(
                    status="cancelled",
                    cancelled_by="office",
                    cancel_reason=reason[:500],
                    to_announce=1,
                    updated_at=now,
                )
            )
        return ids

    def announce(self, tell: Callable[[str, str], None]) -> int:
        """Tell ``tell(process_id, reason)`` of every cancellation by the office not yet
        announced, and mark each once told (a crash in between tells it again: the listener
        must be idempotent, as the appointments plugin is)."""
        with self.hub.store.reading() as conn:
            due = conn.execute(
                select(B.c.process_id, B.c.cancel_reason).where(B.c.to_announce == 1)
            ).all()
        for row in due:
            tell(row.process_id, row.cancel_reason or "")
            with self.hub.store.transaction() as conn:
                conn.execute(
                    update(B).where(B.c.process_id == row.process_id).values(to_announce=0)
                )
        return len(due)

    def outside(self, einsatz_id: str, einsatz: Einsatz) -> int:
        """Coming confirmed bookings the changed plan ``einsatz`` would no longer hold."""
        now = self.clock()
        with self.hub.store.reading() as conn:
            rows = conn.execute(
                select(B.c.start_at, B.c.slots, B.c.day).where(
                    B.c.einsatz_id == einsatz_id, B.c.status == "confirmed", B.c.start_at > now
                )
            ).all()
        lost = 0
        for r in rows:
            ok = einsatz.booking is not None and bool(einsatz.days_between(r.day, r.day))
            ok = ok and r.start_at in self._starts(einsatz, r.day, r.slots)
            lost += not ok
        return lost

    def bookings(self, einsatz_id: str) -> list[dict[str, Any]]:
        """The Einsatz's bookings for the office (call list, day board): confirmed and
        cancelled ones, with contact data while it is kept."""
        with self.hub.store.reading() as conn:
            rows = conn.execute(
                select(B)
                .where(B.c.einsatz_id == einsatz_id, B.c.status.in_(("confirmed", "cancelled")))
                .order_by(B.c.start_at)
            ).all()
        return [
            {
                "process_id": r.process_id,
                "start": r.start_at.isoformat(),
                "status": r.status,
                "services": [{"leika": k, "count": n} for k, n in json.loads(r.services)],
                "reason": r.reason,
                "district": r.district,
                "contact": (
                    {"family_name": r.family_name, "email": r.email, "telephone": r.telephone}
                    if r.family_name
                    else None
                ),
                "cancelled_by": r.cancelled_by,
                "cancel_reason": r.cancel_reason,
            }
            for r in rows
        ]

    def purge(self) -> tuple[int, int]:
        """Contact data of days that are over is deleted; lapsed reservations older than a
        day go. Returns (contacts purged, reservations removed)."""
        today, now = self._today(), self.clock()
        with self.hub.store.transaction() as conn:
            purged = conn.execute(
                update(B)
                .where(B.c.day < today, B.c.family_name.is_not(None))
                .values(family_name=None, email=None, telephone=None, updated_at=now)
            ).rowcount
            lapsed = conn.execute(
                B.delete().where(
                    B.c.status == "reserved", B.c.reserved_until < now - timedelta(days=1)
                )
            ).rowcount
        return purged, lapsed

    # --- inside ----------------------------------------------------------------------------

    def _office(self, einsatz_id: str, einsatz: Einsatz) -> hub.BookingOffice:
        rules = einsatz.booking
        assert rules is not None
        fields = []
        reasons = einsatz.reasons()
        if reasons:
            fields.append(hub.BookingField("reason", "Grund für den Besuch", reasons))
        if rules.districts:
            fields.append(
                hub.BookingField(
                    "district", "Ihr Stadtteil", required=rules.district_rule == "only"
                )
            )
        p = einsatz.place
        info = f"{KIND_WORDS[einsatz.kind]}, {einsatz.hours.start}–{einsatz.hours.end} Uhr"
        if reasons:
            info += ". Nur für: " + "; ".join(REASON_WORDS.get(r, r) for r in reasons)
        if rules.districts:
            info += ". Für die Stadtteile " + ", ".join(rules.districts)
        return hub.BookingOffice(
            einsatz_id,
            f"{einsatz.name} ({p.name})",
            p.address,
            (p.lat, p.lon),
            p.ars,
            tuple(fields),
            info,
        )

    def _einsatz(self, einsatz_id: str, *, any_status: bool = False) -> Einsatz:
        with self.hub.store.reading() as conn:
            row = conn.execute(
                select(E.c.plan, E.c.status, E.c.updated_at).where(E.c.id == einsatz_id)
            ).first()
        if row is None or (row.status != "planned" and not any_status):
            raise hub.UnknownBooking("officeNotFound", "no planned Einsatz with this id", 404)
        einsatz = self._parse(einsatz_id, row.plan, row.updated_at)
        if einsatz.booking is None and not any_status:
            raise hub.UnknownBooking("officeNotFound", "this Einsatz takes no bookings", 404)
        return einsatz

    def _parse(self, einsatz_id: str, plan: str, updated_at: datetime) -> Einsatz:
        """The validated plan, parsed once per change (slot queries ask for it often)."""
        cached = self._parsed.get(einsatz_id)
        if cached is None or cached[0] != updated_at:
            cached = (updated_at, Einsatz.model_validate_json(plan))
            self._parsed[einsatz_id] = cached
        return cached[1]

    @staticmethod
    def _eligible(einsatz: Einsatz, answers: Mapping[str, str]) -> bool:
        """Refuses citizens the rules exclude; True when the citizen is of the Einsatz's own
        districts (or it names none), False when they may book only in its last days."""
        rules = einsatz.booking
        assert rules is not None
        reasons = einsatz.reasons()
        if reasons and answers.get("reason") not in reasons:
            raise hub.NotEligible(
                "reason_required",
                f"declare one of: {', '.join(reasons)}",
                field="answers.reason",
            )
        if not rules.districts:
            return True
        given = (answers.get("district") or "").strip().casefold()
        own = given in {d.casefold() for d in rules.districts}
        if not own and rules.district_rule == "only":
            raise hub.NotEligible(
                "other_district",
                f"this Einsatz is for the districts {', '.join(rules.districts)}",
                field="answers.district",
            )
        return own

    @staticmethod
    def _need(einsatz: Einsatz, services: list[tuple[str, int]]) -> int:
        for i, (leika, _) in enumerate(services):
            if leika not in einsatz.services:
                raise hub.BookingError(
                    "serviceNotOffered", f"{leika} is not offered here", 422, f"services[{i}]"
                )
        return sum(count for _, count in services)

    @staticmethod
    def _starts(einsatz: Einsatz, day: date, need: int) -> list[datetime]:
        """Start times (UTC) of ``need`` consecutive slots within the day's hours."""
        rules = einsatz.booking
        if rules is None:
            return []
        begin, end = einsatz.window(day)
        step = timedelta(minutes=rules.slot_minutes)
        found, t = [], begin
        while t + need * step <= end:
            found.append(t.astimezone(UTC))
            t += step
        return found

    @staticmethod
    def _covered(einsatz: Einsatz, start: datetime, need: int) -> list[datetime]:
        step = timedelta(minutes=einsatz.booking.slot_minutes)  # type: ignore[union-attr]
        return [start + i * step for i in range(need)]

    def _occupancy(
        self, conn: Any, einsatz_id: str, einsatz: Einsatz, first: date, last: date, now: datetime
    ) -> tuple[Counter[datetime], Counter[date]]:
        """Desks taken per slot start, and bookings per day: confirmed ones and reservations
        still held."""
        rows = conn.execute(
            OCCUPANCY, {"einsatz": einsatz_id, "first": first, "last": last, "now": now}
        ).all()
        taken: Counter[datetime] = Counter()
        per_day: Counter[date] = Counter()
        for r in rows:
            per_day[r.day] += 1
            for s in self._covered(einsatz, r.start_at, r.slots):
                taken[s] += 1
        return taken, per_day

    @staticmethod
    def _booking(row: Mapping[str, Any], einsatz: Einsatz) -> hub.Booking:
        minutes = einsatz.booking.slot_minutes * row["slots"] if einsatz.booking else None
        return hub.Booking(
            row["process_id"],
            row["auth_key"],
            row["einsatz_id"],
            row["start_at"],
            tuple((k, n) for k, n in json.loads(row["services"])),
            row["status"],
            minutes,
        )

    def _today(self) -> date:
        return self.clock().astimezone(BERLIN).date()


__all__ = ["NAME", "SlotBook"]
