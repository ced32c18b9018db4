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
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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
    staff: list[str] = Field(default_factory=list, description="Never published")

    def days(self) -> list[date]:
        """Every day of the Einsatz (at most 3 years of them)."""
        return self.days_between(self.start, self.start + timedelta(days=3 * 366))

    def days_between(self, first: date, last: date) -> list[date]:
        """The Einsatz's days from ``first`` to ``last``; only those are expanded (lists,
        feeds and the intake enricher ask for a few days of a long rule)."""
        if not self.rrule:
            return [self.start] if first <= self.start <= last else []
        rule = rrulestr(f"DTSTART:{self.start:%Y%m%d}\nRRULE:{self.rrule}", cache=False)
        moments = rule.between(
            datetime.combine(first, time()), datetime.combine(last, time()), inc=True
        )
        return [m.date() for m in moments]

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The hours of one day, in local time."""
        return (
            datetime.combine(day, time.fromisoformat(self.hours.start), BERLIN),
            datetime.combine(day, time.fromisoformat(self.hours.end), BERLIN),
        )


__all__ = ["DEFAULT_REQUIREMENTS", "Einsatz", "Hours", "Place"]
