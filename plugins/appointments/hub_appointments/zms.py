"""ZMS / eAppointment through its citizen API (``zmscitizenapi``), as a
:class:`hub.BookingSystem`. Its ids are its own (mapped to ARS and LeiKa in the config) and it
asks no customer fields before booking.

Errors: ZMS answers ``{"errors": [{"errorCode", "errorMessage", "statusCode"}]}``. A taken slot
(``appointmentNotAvailable``) is :class:`SlotTaken`; ``appointmentCanNotBeCanceled`` is
:class:`NotCancellable`; ``appointmentNotFound`` is :class:`UnknownBooking`; 429 (with its
``X-RateLimit-Reset``), 503 (maintenance), other 5xx, timeouts and refused connections are
:class:`hub.TransientError`; anything else it refuses is a :class:`BookingError` with its code.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import httpx

import hub
from hub import (
    Booking,
    BookingCatalogue,
    BookingContact,
    BookingError,
    BookingOffice,
    BookingService,
    NotCancellable,
    SlotTaken,
    UnknownBooking,
)

ERRORS = {
    "appointmentNotAvailable": SlotTaken,
    "appointmentCanNotBeCanceled": NotCancellable,
    "appointmentNotFound": UnknownBooking,
}


class ZmsCitizenApi:
    def __init__(self, base_url: str, http: httpx.Client):
        self.base_url = base_url.rstrip("/")
        self.http = http

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        with hub.transport_errors("ZMS"):
            response = self.http.request(method, f"{self.base_url}{path}", **kw)
        if response.status_code < 400:
            return response.json()
        if response.status_code == 429:
            reset = response.headers.get("X-RateLimit-Reset", "")
            wait = max(0.0, float(reset) - time.time()) if reset.isdigit() else None
            raise hub.TransientError("ZMS rate limit reached", retry_after=wait)
        if response.status_code >= 500:
            raise hub.TransientError(
                f"ZMS answered {response.status_code}", retry_after=hub.retry_after(response)
            )
        try:
            error = response.json()["errors"][0]
            code, message = str(error["errorCode"]), str(error.get("errorMessage", ""))
        except (ValueError, KeyError, IndexError, TypeError):
            code, message = f"http_{response.status_code}", "unexpected answer"
        raise ERRORS.get(code, BookingError)(code, f"ZMS: {code} ({message})", response.status_code)

    def catalogue(self) -> BookingCatalogue:
        found = self._call("GET", "/offices-and-services/")
        offices = tuple(
            BookingOffice(
                str(o["id"]),
                o["name"],
                o.get("address"),
                (o["geo"]["lat"], o["geo"]["lon"]) if o.get("geo") else None,
            )
            for o in found["offices"]
        )
        services = tuple(
            BookingService(str(s["id"]), s["name"], int(s.get("maxQuantity", 1)))
            for s in found["services"]
        )
        slots = {
            (str(r["officeId"]), str(r["serviceId"])): int(r["slots"]) for r in found["relations"]
        }
        return BookingCatalogue(offices, services, slots)

    def free_slots(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        first: date,
        last: date,
        answers: Mapping[str, str] = {},
    ) -> list[datetime]:
        try:
            found = self._call(
                "GET",
                "/available-calendar/",
                params={
                    "startDate": first.isoformat(),
                    "endDate": last.isoformat(),
                    "officeIds": office_id,
                    "serviceIds": ",".join(s for s, _ in services),
                    "serviceCounts": ",".join(str(n) for _, n in services),
                },
            )
        except BookingError as exc:
            if exc.code == "noAppointmentForThisDay":
                return []
            raise
        return sorted(
            datetime.fromtimestamp(stamp, UTC)
            for day in found["availableDays"]
            for office in day["offices"]
            if str(office["officeId"]) == office_id
            for stamp in office["appointments"]
        )

    def reserve(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        start: datetime,
        answers: Mapping[str, str] = {},
    ) -> Booking:
        return _booking(
            self._call(
                "POST",
                "/reserve-appointment/",
                json={
                    "officeId": int(office_id),
                    "serviceId": [int(s) for s, _ in services],
                    "serviceCount": [n for _, n in services],
                    "timestamp": int(start.timestamp()),
                },
            )
        )

    def confirm(self, booking: Booking, contact: BookingContact) -> Booking:
        key = {"processId": int(booking.process_id), "authKey": booking.auth_key}
        self._call(
            "POST",
            "/update-appointment/",
            json={
                **key,
                "familyName": contact.family_name,
                "email": contact.email,
                "telephone": contact.telephone,
            },
        )
        self._call("POST", "/preconfirm-appointment/", json=key)
        return _booking(self._call("POST", "/confirm-appointment/", json=key))

    def cancel(self, booking: Booking) -> None:
        self._call(
            "POST",
            "/cancel-appointment/",
            json={"processId": int(booking.process_id), "authKey": booking.auth_key},
        )

    def details(self, process_id: str, auth_key: str) -> Booking:
        return _booking(
            self._call(
                "GET", "/appointment/", params={"processId": process_id, "authKey": auth_key}
            )
        )


def _booking(p: dict[str, Any]) -> Booking:
    services = [(str(p["serviceId"]), int(p.get("serviceCount", 1)))]
    services += [(str(s["id"]), int(s["count"])) for s in p.get("subRequestCounts") or []]
    return Booking(
        process_id=str(p["processId"]),
        auth_key=str(p["authKey"]),
        office_id=str(p["officeId"]),
        start=datetime.fromtimestamp(int(p["timestamp"]), UTC),
        services=tuple(services),
        status=str(p["status"]),
    )


__all__ = ["ZmsCitizenApi"]
