"""An Einsatz (a deployment of a mobile office) and the rules it must keep.

Kinds: a pop-up Bürgerbüro, the Bürgermobil, the Bürgerkoffer at a partner's place, home
visits. Dates are one day or an RFC 5545 RRULE ("first and third Thursday":
``FREQ=MONTHLY;BYDAY=1TH,3TH;UNTIL=20271231``), bounded by ``UNTIL`` or ``COUNT``. What can be
offered follows from what is there: a passport or ID-card application needs camera,
fingerprint scanner and signature pad; a registration needs the connection to the
Melderegister (``[plugins.mobile_office] requirements``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, model_validator

BERLIN = ZoneInfo("Europe/Berlin")
Capability = Literal["camera", "fingerprint", "signature_pad", "melderegister", "mobile_network"]
LeikaKey = Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")]
Ars = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]

# What a service needs on site, unless [plugins.mobile_office] requirements says otherwise.
DEFAULT_REQUIREMENTS: dict[str, list[str]] = {
    "99102013104000": ["camera", "fingerprint", "signature_pad"],  # Personalausweis
    "99102012104000": ["camera", "fingerprint", "signature_pad"],  # Reisepass
    "99115005104000": ["melderegister"],  # Anmeldung einer Wohnung
}


class Place(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    partner: str | None = Field(default=None, max_length=200, description="Library, bank, …")
    address: str = Field(min_length=1, max_length=300)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    ars: Ars
    district: str | None = Field(default=None, max_length=100)


class Hours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


# Who may ask for a home visit (the research: a declared mobility restriction, or living in a
# care home), unless the Einsatz's booking rules name their own reasons.
HOME_VISIT_REASONS = ("mobility_restricted", "care_home_resident")


class SlotRules(BaseModel):
    """How an Einsatz is booked when the hub keeps its slot book (no booking system of the
    municipality sells it): capacity, eligibility, district preference."""

    model_config = ConfigDict(extra="forbid")
    slot_minutes: int = Field(ge=5, le=480, description="Length of one slot")
    desks: int = Field(default=1, ge=1, le=20, description="Citizens served at the same time")
    per_day: int | None = Field(
        default=None, ge=1, le=500, description="Bookings a day at most (home visits: 1–2)"
    )
    opens_days_before: int = Field(
        default=56, ge=1, le=366, description="How far ahead a day can be booked"
    )
    closes_hours_before: int = Field(
        default=2, ge=0, le=168, description="Booking ends this many hours before a slot"
    )
    reasons: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]] | None = (
        Field(
            default=None,
            max_length=10,
            description="Declared reasons that make a citizen eligible (home visits default "
            "to mobility_restricted, care_home_resident); none: everyone may book",
        )
    )
    districts: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=50,
        description="Parts of town (or 12-digit ARS) the Einsatz is for; empty: everyone",
    )
    district_rule: Literal["only", "prefer"] = Field(
        default="prefer",
        description="only: citizens of other districts never book it (home visits batched by "
        "part of town); prefer: they may book in the last open_to_all_days_before days",
    )
    open_to_all_days_before: int = Field(default=7, ge=0, le=366)


class Einsatz(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["popup", "buergermobil", "koffer_partner", "home_visit"]
    name: str = Field(min_length=1, max_length=200)
    place: Place
    start: date = Field(description="The first day (DTSTART)")
    rrule: str | None = Field(
        default=None, max_length=300, description="RFC 5545 RRULE, bounded by UNTIL or COUNT"
    )
    hours: Hours
    capabilities: list[Capability] = Field(default_factory=list)
    devices: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]] = Field(
        default_factory=list, description="Bürgerkoffer device names"
    )
    services: list[LeikaKey] = Field(min_length=1)
    slots_per_day: int | None = Field(default=None, ge=1, le=500)
    booking: SlotRules | None = Field(
        default=None, description="Bookable through the hub's slot book; none: walk-in only"
    )
    staff: list[str] = Field(default_factory=list, description="Never published")
    _rule: Any = PrivateAttr(default=None)

    def reasons(self) -> tuple[str, ...]:
        """The reasons of which a citizen must declare one to book (empty: none needed)."""
        if self.booking is None:
            return ()
        if self.booking.reasons is not None:
            return tuple(self.booking.reasons)
        return HOME_VISIT_REASONS if self.kind == "home_visit" else ()

    def days(self) -> list[date]:
        """Every day of the Einsatz (at most 3 years of them)."""
        return self.days_between(self.start, self.start + timedelta(days=3 * 366))

    def days_between(self, first: date, last: date) -> list[date]:
        """The Einsatz's days from ``first`` to ``last``; only those are expanded (lists,
        feeds and the intake enricher ask for a few days of a long rule)."""
        if not self.rrule:
            return [self.start] if first <= self.start <= last else []
        if self._rule is None:  # parsed once per plan: slot queries ask many times
            self._rule = rrulestr(f"DTSTART:{self.start:%Y%m%d}\nRRULE:{self.rrule}", cache=False)
        moments = self._rule.between(
            datetime.combine(first, time()), datetime.combine(last, time()), inc=True
        )
        return [m.date() for m in moments]

    def offered_per_day(self) -> int:
        """Slots a day offers for booking (0: walk-ins only): the slots within the hours
        times the desks, no more than the day's cap."""
        rules = self.booking
        if rules is None:
            return 0
        begin, end = self.window(self.start)
        slots = int((end - begin).total_seconds() // 60 // rules.slot_minutes) * rules.desks
        cap = rules.per_day or self.slots_per_day
        return min(slots, cap) if cap else slots

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The hours of one day, in local time."""
        return (
            datetime.combine(day, time.fromisoformat(self.hours.start), BERLIN),
            datetime.combine(day, time.fromisoformat(self.hours.end), BERLIN),
        )


__all__ = ["DEFAULT_REQUIREMENTS", "HOME_VISIT_REASONS", "Einsatz", "Hours", "Place", "SlotRules"]
