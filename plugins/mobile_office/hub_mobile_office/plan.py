"""Planning Einsätze: checked against the rules (RRULE, capabilities, devices not in two places
at once), stored, expanded to dates for lists, feeds and maps, cancelled with a reason.

Bad plans raise :class:`hub.IntakeRejected` naming field and rule and store nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from dateutil.rrule import rrulestr
from sqlalchemy import insert, select, update

import hub
from hub import utcnow
from hub_mobile_office import tables
from hub_mobile_office.model import BERLIN, Einsatz
from hub_mobile_office.slotbook import NAME as SLOT_BOOK
from hub_mobile_office.slotbook import SlotBook

log = structlog.get_logger("hub.mobile_office")
E = tables.einsaetze
GRACE = timedelta(hours=1)


def _bad(field: str, rule: str, message: str, status: int | None = None) -> hub.IntakeRejected:
    extra = {"status_code": status} if status else {}
    return hub.IntakeRejected.one(field, rule, message, **extra)


@dataclass(frozen=True)
class Occurrence:
    einsatz_id: str
    einsatz: Einsatz
    day: date
    bring: dict[str, dict[str, Any]] | None = None  # LeiKa key → what to bring, the fee

    def public(self) -> dict[str, Any]:
        """What people may see: no staff, no devices."""
        start, end = self.einsatz.window(self.day)
        p = self.einsatz.place
        return {
            "einsatz": self.einsatz_id,
            "kind": self.einsatz.kind,
            "name": self.einsatz.name,
            "place": {
                "name": p.name,
                "partner": p.partner,
                "address": p.address,
                "lat": p.lat,
                "lon": p.lon,
                "ars": p.ars,
                "district": p.district,
            },
            "start": start.isoformat(),
            "end": end.isoformat(),
            "services": [
                {"leika": leika, **(self.bring or {}).get(leika, {})}
                for leika in self.einsatz.services
            ],
        }


class Planner:
    def __init__(
        self,
        h: Any,
        requirements: dict[str, list[str]],
        bring: dict[str, dict[str, Any]] | None = None,
    ):
        self.hub = h
        self.requirements = requirements
        self.bring = bring or {}
        self.slots = SlotBook(h, self.bring)

    def check(
        self, einsatz: Einsatz, *, ignore: str | None = None, devices: bool = True
    ) -> list[date]:
        """The Einsatz's days, once every rule holds (``devices=False``: the caller checks
        the devices itself, inside its write transaction)."""
        if einsatz.rrule:
            if "DTSTART" in einsatz.rrule.upper():
                raise _bad("rrule", "rfc5545", "give the first day as start, not DTSTART")
            try:
                rrulestr(f"DTSTART:{einsatz.start:%Y%m%d}\nRRULE:{einsatz.rrule}")
            except (ValueError, TypeError) as exc:
                raise _bad("rrule", "rfc5545", f"not an RFC 5545 RRULE: {exc}") from None
            upper = einsatz.rrule.upper()
            if "UNTIL=" not in upper and "COUNT=" not in upper:
                raise _bad("rrule", "unbounded", "end it with UNTIL or COUNT")
        days = einsatz.days()
        if not days:
            raise _bad("rrule", "no_days", "the rule gives no day")
        have = set(einsatz.capabilities)
        for i, leika in enumerate(einsatz.services):
            missing = [c for c in self.requirements.get(leika, []) if c not in have]
            if missing:
                raise _bad(
                    f"services[{i}]",
                    "capability_missing",
                    f"{leika} needs {', '.join(missing)} on site",
                )
        rules = einsatz.booking
        if rules is not None:
            begin, end = einsatz.window(days[0])
            if (end - begin).total_seconds() < rules.slot_minutes * 60:
                raise _bad("booking.slot_minutes", "longer_than_hours", "no slot fits the hours")
            if rules.district_rule == "only" and not rules.districts:
                raise _bad("booking.districts", "required", "name the districts it is only for")
        if devices and einsatz.devices:
            self._devices_free(einsatz, days, ignore)
        return days

    def _devices_free(self, einsatz: Einsatz, days: list[date], ignore: str | None) -> None:
        mine = set(days)
        for other_id, other in self._planned(days[0], days[-1]):
            if other_id == ignore:
                continue
            shared = [d for d in einsatz.devices if d in other.devices]
            if not shared:
                continue
            for day in sorted(mine.intersection(other.days_between(days[0], days[-1]))):
                a, b = einsatz.window(day), other.window(day)
                if a[0] < b[1] and b[0] < a[1]:
                    i = einsatz.devices.index(shared[0])
                    raise _bad(
                        f"devices[{i}]",
                        "device_busy",
                        f"{shared[0]} is at '{other.name}' ({other_id}) on {day.isoformat()}",
                        409,
                    )

    def create(self, einsatz: Einsatz, *, created_by: str) -> dict[str, Any]:
        days = self.check(einsatz, devices=False)
        now = utcnow()
        row = {
            "id": str(uuid.uuid4()),
            "kind": einsatz.kind,
            "name": einsatz.name,
            "ars": einsatz.place.ars,
            "plan": einsatz.model_dump_json(),
            "first_day": days[0],
            "last_day": days[-1],
            "status": "planned",
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        with self.hub.store.transaction() as conn:
            # Re-checked inside the write lock: two plans for one device cannot both pass.
            self._devices_free(einsatz, days, None)
            conn.execute(insert(E).values(row))
        log.info("einsatz_planned", einsatz=row["id"], kind=einsatz.kind, days=len(days))
        self._tell(row["id"], einsatz, "planned")
        return self.summary(row["id"])

    def change(self, einsatz_id: str, einsatz: Einsatz) -> dict[str, Any]:
        """Replace a planned Einsatz's plan, under the same rules (it never collides with
        itself)."""
        current = self.summary(einsatz_id)
        if current["status"] != "planned":
            raise _bad("einsatz", current["status"], f"the Einsatz is {current['status']}", 409)
        days = self.check(einsatz, ignore=einsatz_id, devices=False)
        lost = self.slots.outside(einsatz_id, einsatz)
        if lost:
            raise _bad(
                "einsatz",
                "bookings_affected",
                f"{lost} confirmed booking(s) would fall outside the new plan: cancel them first",
                409,
            )
        with self.hub.store.transaction() as conn:
            self._devices_free(einsatz, days, einsatz_id)
            done = conn.execute(
                update(E)
                .where(E.c.id == einsatz_id, E.c.status == "planned")
                .values(
                    kind=einsatz.kind,
                    name=einsatz.name,
                    ars=einsatz.place.ars,
                    plan=einsatz.model_dump_json(),
                    first_day=days[0],
                    last_day=days[-1],
                    updated_at=utcnow(),
                )
            ).rowcount
        if not done:
            raise _bad("einsatz", "changed", "the Einsatz changed meanwhile", 409)
        log.info("einsatz_changed", einsatz=einsatz_id, days=len(days))
        self._tell(einsatz_id, einsatz, "planned")
        return self.summary(einsatz_id)

    def cancel(self, einsatz_id: str, reason: str) -> dict[str, Any]:
        """Call an Einsatz off; its coming bookings go with it in the same transaction."""
        with self.hub.store.transaction() as conn:
            done = conn.execute(
                update(E)
                .where(E.c.id == einsatz_id, E.c.status == "planned")
                .values(status="cancelled", cancel_reason=reason, updated_at=utcnow())
            ).rowcount
            called_off = (
                SlotBook.cancel_einsatz(conn, einsatz_id, f"Einsatz abgesagt: {reason}")
                if done
                else []
            )
        if not done:
            self.summary(einsatz_id)  # 404 for an unknown one
            raise _bad("einsatz", "cancelled", "the Einsatz is cancelled already", 409)
        # Whoever keeps appointments of the slot book is told (the appointments plugin marks
        # them and tells their records); the office has the call list with the contacts.
        # What a crash here leaves untold, the purge service tells on its next round.
        self.announce()
        self._tell(einsatz_id, self.slots._einsatz(einsatz_id, any_status=True), "cancelled")
        log.info("einsatz_cancelled", einsatz=einsatz_id, bookings=len(called_off))
        return {**self.summary(einsatz_id), "bookings_cancelled": len(called_off)}

    def _tell(self, einsatz_id: str, einsatz: Einsatz, status: str) -> None:
        """Tell the plugins (``einsatz_planned``; reports use it) the plan as it is now: a
        cancelled Einsatz keeps the days that were held before today."""
        per_day = einsatz.offered_per_day()
        days = einsatz.days()
        if status == "cancelled":
            today = utcnow().astimezone(BERLIN).date()
            days = [d for d in days if d < today]
        p = einsatz.place
        self.hub.einsatz_planned(
            hub.EinsatzPlan(
                einsatz_id=einsatz_id,
                kind=einsatz.kind,
                name=einsatz.name,
                place=p.name,
                ars=p.ars,
                lat=p.lat,
                lon=p.lon,
                slots=dict.fromkeys(days, per_day),
                status=status,
                system=SLOT_BOOK if einsatz.booking is not None else None,
            )
        )

    def announce(self) -> int:
        """Tell the plugins (``booking_cancelled``) of bookings the office cancelled."""
        return self.slots.announce(
            lambda process_id, why: self.hub.booking_cancelled(SLOT_BOOK, process_id, why)
        )

    def summary(self, einsatz_id: str) -> dict[str, Any]:
        with self.hub.store.reading() as conn:
            row = conn.execute(select(E).where(E.c.id == einsatz_id)).first()
        if row is None:
            raise _bad("einsatz", "unknown", "no such Einsatz", 404)
        einsatz = Einsatz.model_validate_json(row.plan)
        return {
            "id": row.id,
            "status": row.status,
            "cancel_reason": row.cancel_reason,
            "days": [d.isoformat() for d in einsatz.days()],
            **json.loads(row.plan),
        }

    def _planned(self, first: date, last: date, ars: str = "") -> list[tuple[str, Einsatz]]:
        query = select(E.c.id, E.c.plan).where(
            E.c.status == "planned", E.c.first_day <= last, E.c.last_day >= first
        )
        if ars:
            query = query.where(E.c.ars.startswith(ars))
        with self.hub.store.reading() as conn:
            rows = conn.execute(query).all()
        return [(r.id, Einsatz.model_validate_json(r.plan)) for r in rows]

    def find(self, device_id: str, at: datetime) -> str | None:
        """The planned Einsatz a device is on at ``at`` (an hour's grace either side: staff
        set up early and finish late)."""
        local = at.astimezone(BERLIN)
        for einsatz_id, einsatz in self._planned(local.date(), local.date()):
            if device_id in einsatz.devices and einsatz.days_between(local.date(), local.date()):
                start, end = einsatz.window(local.date())
                if start - GRACE <= local <= end + GRACE:
                    return einsatz_id
        return None

    def is_planned(self, einsatz_id: str) -> bool:
        with self.hub.store.reading() as conn:
            status = conn.execute(select(E.c.status).where(E.c.id == einsatz_id)).scalar()
        return status == "planned"

    def occurrences(self, first: date, last: date, ars: str = "") -> list[Occurrence]:
        """Every planned day between ``first`` and ``last`` (ARS prefix), in time order."""
        found = [
            Occurrence(einsatz_id, einsatz, day, self.bring)
            for einsatz_id, einsatz in self._planned(first, last, ars)
            for day in einsatz.days_between(first, last)
        ]
        return sorted(found, key=lambda o: (o.day, o.einsatz.hours.start, o.einsatz.name))


__all__ = ["Occurrence", "Planner"]
