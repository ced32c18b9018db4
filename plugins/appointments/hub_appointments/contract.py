"""What the hub needs from a booking system, whichever vendor runs it.

Modelled on the calls appointment plugins of other platforms provide (services, locations,
days, times, required customer fields, create, cancel, details) with ZMS's explicit **reserve →
confirm** step: a reservation holds a slot until ``expires_at`` and is either confirmed with the
citizen's contact data or lapses, so the hub never holds a slot silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import hub


@dataclass(frozen=True)
class Office:
    id: str
    name: str
    address: str | None = None
    geo: tuple[float, float] | None = None  # (lat, lon)


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    max_quantity: int = 1
    combinable: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    offices: tuple[Office, ...]
    services: tuple[Service, ...]
    # (office id, service id) → slots the service takes at that office
    slots: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Booking:
    """A reservation or appointment as the booking system keeps it."""

    process_id: str
    auth_key: str
    office_id: str
    start: datetime
    services: tuple[tuple[str, int], ...]  # (service id, count)
    status: str  # reserved, preconfirmed, confirmed, cancelled


@dataclass(frozen=True)
class Contact:
    """What the booking system needs to reach the citizen; the hub does not keep it."""

    family_name: str
    email: str | None = None
    telephone: str | None = None


class BookingError(hub.PermanentError):
    """The booking system refused the request for good; ``code`` is its reason."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(message)
        self.code, self.status = code, status


class SlotTaken(BookingError):
    """The slot is no longer free (another citizen was faster)."""


class NotCancellable(BookingError):
    """The appointment cannot be cancelled any more (it has begun or passed)."""


class UnknownBooking(BookingError):
    """No such process, or the auth key does not match."""


class BookingSystem(Protocol):
    """One booking system (one ``[plugins.appointments]`` system); calls raise
    :class:`BookingError` subclasses or :class:`hub.TransientError` (outage, rate limit)."""

    def catalogue(self) -> Catalogue: ...

    def free_slots(
        self, office_id: str, services: list[tuple[str, int]], first: date, last: date
    ) -> list[datetime]: ...

    def reserve(
        self, office_id: str, services: list[tuple[str, int]], start: datetime
    ) -> Booking: ...

    def confirm(self, booking: Booking, contact: Contact) -> Booking: ...

    def cancel(self, booking: Booking) -> None: ...

    def details(self, process_id: str, auth_key: str) -> Booking: ...


__all__ = [
    "Booking",
    "BookingError",
    "BookingSystem",
    "Catalogue",
    "Contact",
    "NotCancellable",
    "Office",
    "Service",
    "SlotTaken",
    "UnknownBooking",
]
