"""A loopback double of ZMS's citizen API (``zmscitizenapi``), for tests and ``make run``.

Same paths and conventions as the real service: offices, services and their relations
(``slots`` a service takes at an office), bookable days with free times as Unix timestamps,
reserve → update → preconfirm → confirm, cancel, one appointment by ``processId`` + ``authKey``.
Behaviour that matters to a client is real: capacity per office (workstations per time slot,
multi-service bookings taking several consecutive slots), reservation and activation timeouts on
an injectable clock, a slot kept locked for a while after a cancellation, two reserves of the
last slot giving one success, ``appointmentCanNotBeCanceled`` (406) once the time has passed,
429 with ``X-RateLimit-*`` headers, 503 in maintenance, and a mail sink that records what the
citizen would have received.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Availability:
    """When an office can be booked: weekdays (0 = Monday) or explicit dates, hours, slot length
    and desks — enough for "every Thursday 12–16 h, one desk" or a one-day pop-up."""

    start: str = "09:00"
    end: str = "16:00"
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    dates: tuple[date, ...] = ()  # when given, only these days
    slot_minutes: int = 15
    workstations: int = 1
    bookable_days: int = 60


@dataclass
class Process:
    id: int
    auth_key: str
    office_id: int
    services: list[tuple[int, int]]
    timestamp: int
    status: str  # reserved, preconfirmed, confirmed, cancelled
    changed_at: float
    family_name: str | None = None
    email: str | None = None
    telephone: str | None = None

    def units(self, relations: dict[tuple[int, int], int]) -> int:
        return sum(relations[(self.office_id, s)] * n for s, n in self.services)

    def thinned(self) -> dict[str, Any]:
        return {
            "processId": self.id,
            "authKey": self.auth_key,
            "timestamp": self.timestamp,
            "officeId": self.office_id,
            "serviceId": self.services[0][0],
            "serviceCount": self.services[0][1],
            "subRequestCounts": [{"id": s, "count": n} for s, n in self.services[1:]],
            "familyName": self.family_name,
            "email": self.email,
            "telephone": self.telephone,
            "status": self.status,
        }


@dataclass
class ZmsSimulator:
    offices: dict[int, dict[str, Any]]
    services: dict[int, dict[str, Any]]
    relations: dict[tuple[int, int], int]  # (office, service) → slots
    availability: dict[int, Availability]
    clock: Callable[[], float] = time.time
    reservation_minutes: int = 15
    activation_minutes: int = 60
    deallocation_minutes: int = 5
    rate_limit: int = 600  # requests per minute and client address
    maintenance: bool = False
    mails: list[dict[str, Any]] = field(default_factory=list)
    processes: dict[int, Process] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hits: dict[str, list[float]] = field(default_factory=dict)
    _next_id: int = 100_000

    # --- capacity ---------------------------------------------------------------------------

    def _times(self, office: int, day: date) -> list[int]:
        a = self.availability.get(office)
        if a is None:
            return []
        if (a.dates and day not in a.dates) or (not a.dates and day.weekday() not in a.weekdays):
            return []
        today = datetime.fromtimestamp(self.clock(), BERLIN).date()
        if not today <= day <= today + timedelta(days=a.bookable_days):
            return []
        start = datetime.combine(day, clock_time.fromisoformat(a.start), BERLIN)
        end = datetime.combine(day, clock_time.fromisoformat(a.end), BERLIN)
        step = timedelta(minutes=a.slot_minutes)
        found, t = [], start
        while t < end:
            found.append(int(t.timestamp()))
            t += step
        return found

    def _live(self, p: Process) -> bool:
        age = (self.clock() - p.changed_at) / 60
        return {
            "reserved": age < self.reservation_minutes,
            "preconfirmed": age < self.activation_minutes,
            "confirmed": True,
            "cancelled": age < self.deallocation_minutes,  # locked against slot trading
        }[p.status]

    def _free(self, office: int, units: int, day: date) -> list[int]:
        times = self._times(office, day)
        if not times:
            return []
        a = self.availability[office]
        step = a.slot_minutes * 60
        used: dict[int, int] = {}
        for p in self.processes.values():
            if p.office_id == office and self._live(p):
                for k in range(p.units(self.relations)):
                    used[p.timestamp + k * step] = used.get(p.timestamp + k * step, 0) + 1
        now = self.clock()
        index = set(times)
        return [
            t
            for t in times
            if t > now
            and all(
                t + k * step in index and used.get(t + k * step, 0) < a.workstations
                for k in range(units)
            )
        ]

    # --- the API --------------------------------------------------------------------------

    def app(self) -> FastAPI:
        api = FastAPI(title="ZMS citizen API (simulator)")

        @api.middleware("http")
        async def guard(request: Request, call_next: Any) -> Any:
            if request.url.path == "/mails/":
                return await call_next(request)
            if self.maintenance:
                return _error(503, "serviceUnavailable", "maintenance")
            who = request.client.host if request.client else "-"
            now = self.clock()
            with self._lock:
                hits = [t for t in self._hits.get(who, []) if now - t < 60] + [now]
                self._hits[who] = hits
            left = self.rate_limit - len(hits)
            headers = {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, left)),
                "X-RateLimit-Reset": str(int(min(hits) + 60)),
            }
            if left < 0:
                return _error(429, "rateLimitExceeded", "too many requests", headers)
            response = await call_next(request)
            response.headers.update(headers)
            return response

        @api.get("/offices-and-services/")
        def offices_and_services() -> dict[str, Any]:
            return {
                "offices": [{"id": i, **o} for i, o in sorted(self.offices.items())],
                "services": [{"id": i, **s} for i, s in sorted(self.services.items())],
                "relations": [
                    {"officeId": o, "serviceId": s, "slots": n}
                    for (o, s), n in sorted(self.relations.items())
                ],
            }

        @api.get("/available-calendar/")
        def calendar(
            startDate: str, endDate: str, officeIds: str, serviceIds: str, serviceCounts: str = ""
        ) -> Any:
            try:
                first, last = date.fromisoformat(startDate), date.fromisoformat(endDate)
                offices = [int(o) for o in officeIds.split(",")]
                wanted = self._wanted(serviceIds, serviceCounts)
            except ValueError:
                return _error(400, "invalidRequest", "dates or id lists malformed")
            days = []
            with self._lock:
                day = first
                while day <= last and day <= first + timedelta(days=92):
                    entry = []
                    for office in offices:
                        if any((office, s) not in self.relations for s, _ in wanted):
                            continue
                        units = sum(self.relations[(office, s)] * n for s, n in wanted)
                        free = self._free(office, units, day)
                        if free:
                            entry.append({"officeId": office, "appointments": free})
                    if entry:
                        days.append(
                            {
                                "date": day.isoformat(),
                                "providerIDs": ",".join(str(e["officeId"]) for e in entry),
                                "offices": entry,
                            }
                        )
                    day += timedelta(days=1)
            if not days:
                return _error(404, "noAppointmentForThisDay", "no bookable day in the range")
            return {"availableDays": days}

        @api.post("/reserve-appointment/")
        async def reserve(request: Request) -> Any:
            body = await request.json()
            try:
                office = int(body["officeId"])
                wanted = list(
                    zip(map(int, body["serviceId"]), map(int, body["serviceCount"]), strict=True)
                )
                stamp = int(body["timestamp"])
            except (KeyError, TypeError, ValueError):
                return _error(
                    400, "invalidRequest", "officeId, serviceId[], serviceCount[], timestamp"
                )
            if not wanted or any((office, s) not in self.relations for s, _ in wanted):
                return _error(400, "serviceNotAvailableAtOffice", "service not offered there")
            for s, n in wanted:
                if n < 1 or n > self.services[s].get("maxQuantity", 1):
                    return _error(400, "invalidServiceCount", f"service {s}: count {n}")
            units = sum(self.relations[(office, s)] * n for s, n in wanted)
            day = datetime.fromtimestamp(stamp, BERLIN).date()
            with self._lock:  # the last-slot race: one reserve wins
                if stamp not in self._free(office, units, day):
                    return _error(409, "appointmentNotAvailable", "the slot is taken")
                self._next_id += 1
                p = Process(
                    self._next_id,
                    secrets.token_hex(3)[:5],
                    office,
                    wanted,
                    stamp,
                    "reserved",
                    self.clock(),
                )
                self.processes[p.id] = p
            return p.thinned()

        def _process(body: dict[str, Any]) -> Process | JSONResponse:
            p = self.processes.get(int(body.get("processId") or 0))
            if p is None or not secrets.compare_digest(str(body.get("authKey", "")), p.auth_key):
                return _error(404, "appointmentNotFound", "unknown processId or authKey")
            if p.status in ("reserved", "preconfirmed") and not self._live(p):
                return _error(404, "appointmentNotFound", "the reservation lapsed")
            return p

        @api.post("/update-appointment/")
        async def update(request: Request) -> Any:
            body = await request.json()
            with self._lock:
                p = _process(body)
                if isinstance(p, JSONResponse):
                    return p
                if not body.get("familyName") or not (body.get("email") or body.get("telephone")):
                    return _error(400, "invalidContact", "familyName and email or telephone")
                p.family_name, p.email = body["familyName"], body.get("email")
                p.telephone = body.get("telephone")
            return p.thinned()

        @api.post("/preconfirm-appointment/")
        async def preconfirm(request: Request) -> Any:
            return self._advance(await request.json(), _process, "reserved", "preconfirmed")

        @api.post("/confirm-appointment/")
        async def confirm(request: Request) -> Any:
            return self._advance(await request.json(), _process, "preconfirmed", "confirmed")

        @api.post("/cancel-appointment/")
        async def cancel(request: Request) -> Any:
            body = await request.json()
            with self._lock:
                p = _process(body)
                if isinstance(p, JSONResponse):
                    return p
                if p.status == "cancelled" or p.timestamp <= self.clock():
                    return _error(406, "appointmentCanNotBeCanceled", "it has begun or passed")
                was = p.status
                p.status, p.changed_at = "cancelled", self.clock()
                if was != "reserved" and p.email:
                    self.mails.append({"to": p.email, "kind": "cancellation", "processId": p.id})
            return p.thinned()

        @api.get("/appointment/")
        def appointment(processId: int, authKey: str) -> Any:
            with self._lock:
                p = _process({"processId": processId, "authKey": authKey})
            return p if isinstance(p, JSONResponse) else p.thinned()

        @api.get("/mails/")
        def mails() -> dict[str, Any]:
            return {"items": list(self.mails)}

        return api

    def _advance(self, body: dict[str, Any], find: Any, before: str, after: str) -> Any:
        with self._lock:
            p = find(body)
            if isinstance(p, JSONResponse):
                return p
            if p.status != before:
                return _error(409, "appointmentNotInState", f"status is {p.status}")
            if p.family_name is None:
                return _error(400, "invalidContact", "update-appointment first")
            p.status, p.changed_at = after, self.clock()
            kind = "activation" if after == "preconfirmed" else "confirmation"
            if p.email:
                self.mails.append({"to": p.email, "kind": kind, "processId": p.id})
        return p.thinned()

    @staticmethod
    def _wanted(service_ids: str, counts: str) -> list[tuple[int, int]]:
        ids = [int(s) for s in service_ids.split(",")]
        numbers = [int(c) for c in counts.split(",")] if counts else [1] * len(ids)
        if len(numbers) != len(ids):
            raise ValueError("serviceCounts")
        return list(zip(ids, numbers, strict=True))


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"errorCode": code, "errorMessage": message, "statusCode": status}]},
        status_code=status,
        headers=headers,
    )


def demo(clock: Callable[[], float] = time.time) -> ZmsSimulator:
    """A seeded system: a Bürgerbüro (weekdays), a pop-up in a library (one day) and a
    Bürgerkoffer at a Sparkasse branch (Thursdays 12–16 h)."""
    today = datetime.fromtimestamp(clock(), UTC).astimezone(BERLIN).date()
    popup_day = today + timedelta(days=(5 - today.weekday()) % 7 + 7)  # a Saturday
    return ZmsSimulator(
        offices={
            10: {
                "name": "Bürgerbüro Mitte",
                "address": "Marktplatz 1, 40213 Düsseldorf",
                "geo": {"lat": 51.2254, "lon": 6.7763},
            },
            20: {
                "name": "Pop-up-Bürgerbüro Zentralbibliothek",
                "address": "Konrad-Adenauer-Platz 1, 40210 Düsseldorf",
                "geo": {"lat": 51.2199, "lon": 6.7943},
            },
            30: {
                "name": "Bürgerkoffer Sparkasse Opladen",
                "address": "Kölner Straße 98, 51379 Leverkusen",
                "geo": {"lat": 51.0665, "lon": 7.0046},
            },
        },
        services={
            1: {"name": "Personalausweis beantragen", "maxQuantity": 3},
            2: {"name": "Reisepass beantragen", "maxQuantity": 3},
            3: {"name": "Wohnsitz anmelden", "maxQuantity": 1},
        },
        relations={(10, 1): 1, (10, 2): 1, (10, 3): 2, (20, 1): 2, (20, 2): 2, (30, 1): 2},
        availability={
            10: Availability(workstations=2),
            20: Availability(start="10:00", end="14:00", dates=(popup_day,), slot_minutes=20),
            30: Availability(start="12:00", end="16:00", weekdays=(3,), slot_minutes=20),
        },
        clock=clock,
    )


__all__ = ["Availability", "Process", "ZmsSimulator", "demo"]
