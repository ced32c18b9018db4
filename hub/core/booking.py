"""What the hub needs from a booking system, whichever vendor (or plugin) runs it.

Modelled on the calls appointment plugins of other platforms provide (offices and services,
required customer fields, free times, create, cancel, details) with ZMS's explicit **reserve →
confirm** step: a reservation holds a slot for a short time and is either confirmed with the
citizen's contact data or lapses, so nobody holds a slot silently.

A plugin that *is* a booking system (a mobile office's own slot book) registers it with
``register_booking_systems``; the appointments plugin offers every registered system through
one API. Offices and services may carry their ARS and LeiKa key themselves; systems that speak
their own ids (ZMS) are mapped in configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from hub.core.errors import PermanentError


@dataclass(frozen=True)
class BookingField:
    """A customer field an office asks for before it offers slots (a home visit's reason,
    the citizen's district). ``choices`` empty: free text of at most 200 characters."""

    name: str
    label: str
    choices: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class BookingOffice:
    id: str
    name: str
    address: str | None = None
    geo: tuple[float, float] | None = None  # (lat, lon)
    ars: str | None = None  # the municipality served, when the system knows it
    fields: tuple[BookingField, ...] = ()
    info: str | None = None  # shown before booking (what to bring, who may book)


@dataclass(frozen=True)
class BookingService:
    id: str
    name: str
    max_quantity: int = 1
    combinable: tuple[str, ...] = ()
    leika: str | None = None  # the Leistungsschlüssel, when the system knows it


@dataclass(frozen=True)
class BookingCatalogue:
    offices: tuple[BookingOffice, ...]
    services: tuple[BookingService, ...]
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
    minutes: int | None = None  # how long it takes, when the system says


@dataclass(frozen=True)
class BookingContact:
    """What the booking system needs to reach the citizen."""

    family_name: str
    email: str | None = None
    telephone: str | None = None


class BookingError(PermanentError):
    """The booking system refused the request for good; ``code`` is its reason and ``field``
    the request field it concerns."""

    def __init__(self, code: str, message: str, status: int = 409, field: str = "appointment"):
        super().__init__(message)
        self.code, self.status, self.field = code, status, field


class SlotTaken(BookingError):
    """The slot is no longer free (another citizen was faster, or capacity is used up)."""

    def __init__(self, code: str, message: str, status: int = 409, field: str = "start"):
        super().__init__(code, message, status, field)


class NotCancellable(BookingError):
    """The appointment cannot be cancelled any more (it has begun or passed)."""


class UnknownBooking(BookingError):
    """No such process, or the auth key does not match."""


class NotEligible(BookingError):
    """The office's booking rules refuse this citizen (no declared reason for a home visit,
    another district's day)."""

    def __init__(self, code: str, message: str, status: int = 422, field: str = "answers"):
        super().__init__(code, message, status, field)


@runtime_checkable
class BookingSystem(Protocol):
    """One booking system. Calls raise :class:`BookingError` subclasses, or
    :class:`hub.TransientError` when the system is away (outage, rate limit). ``answers`` are
    the citizen's values for the office's :class:`BookingField` s."""

    def catalogue(self) -> BookingCatalogue: ...

    def free_slots(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        first: date,
        last: date,
        answers: Mapping[str, str] = {},
    ) -> list[datetime]: ...

    def reserve(
        self,
        office_id: str,
        services: list[tuple[str, int]],
        start: datetime,
        answers: Mapping[str, str] = {},
    ) -> Booking: ...

    def confirm(self, booking: Booking, contact: BookingContact) -> Booking: ...

    def cancel(self, booking: Booking) -> None: ...

    def details(self, process_id: str, auth_key: str) -> Booking: ...


class RegisterBookingSystem(Protocol):
    def __call__(self, name: str, system: BookingSystem) -> None: ...


@dataclass(frozen=True)
class AppointmentChange:
    """What became of an appointment, told to whoever counts them (``appointment_changed``):
    no contact data, no citizen — the office, the day, the services and the new status."""

    appointment_id: str
    status: str  # booked, cancelled, moved (start is the new time), attended, no_show, walk_in
    system: str  # the booking system's registered name ("zms", "mobile_office", …)
    office: str  # the system's own office id (for the hub's slot book: the Einsatz id)
    ars: str
    start: datetime
    channel: str  # online (the citizen), classic (staff booked it), walk_in
    leika: tuple[str, ...] = ()
    record_id: str | None = None
    reason: str | None = None  # why it was called off, meant for the citizen
    place: str = ""  # the office's name and address, as the booking system gives them


@dataclass(frozen=True)
class EinsatzPlan:
    """A mobile office's Einsatz as planned now, told on every change (``einsatz_planned``):
    where it is, and how many slots each of its days offers (0: walk-ins only). A cancelled
    Einsatz keeps only the days that were held before it was called off. No staff names."""

    einsatz_id: str
    kind: str  # popup, buergermobil, koffer_partner, home_visit
    name: str
    place: str
    ars: str
    lat: float
    lon: float
    slots: Mapping[date, int]
    status: str = "planned"  # or cancelled
    system: str | None = None  # the booking system whose office id is ``einsatz_id``


__all__ = [
    "AppointmentChange",
    "Booking",
    "BookingCatalogue",
    "BookingContact",
    "BookingError",
    "BookingField",
    "BookingOffice",
    "BookingService",
    "BookingSystem",
    "EinsatzPlan",
    "NotCancellable",
    "NotEligible",
    "RegisterBookingSystem",
    "SlotTaken",
    "UnknownBooking",
]
