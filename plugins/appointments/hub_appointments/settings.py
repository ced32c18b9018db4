"""``[plugins.appointments]``: the booking system and how its ids map to ARS and LeiKa keys."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Ars = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
LeikaKey = Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")]


class OfficeMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ars: Ars = Field(description="Regionalschlüssel of the municipality the office serves")


class SimulatorSettings(BaseModel):
    """Development: the ZMS citizen API double inside ``hub serve`` (``make run``)."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8093, ge=1, le=65535)


class AppointmentsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: Literal["zms"] = Field(default="zms", description="The booking system's API")
    url: str | None = Field(
        default=None,
        description="Base URL of the booking system's citizen API; without it only the "
        "booking systems plugins register (a mobile office's slot book) are offered",
    )
    timeout: float = Field(default=10.0, gt=0)
    offices: dict[str, OfficeMap] = Field(
        default_factory=dict,
        description="Booking-system office id → the municipality it serves; only these are offered",
    )
    services: dict[str, LeikaKey] = Field(
        default_factory=dict,
        description="Booking-system service id → LeiKa key (Leistungsschlüssel)",
    )
    reservation_minutes: float = Field(
        default=10, gt=0, le=60, description="How long the hub holds a reserved slot unconfirmed"
    )
    max_days: int = Field(default=62, ge=1, le=366, description="Longest slot query, in days")
    simulator: SimulatorSettings | None = None

    @model_validator(mode="after")
    def _mapped_only_with_url(self) -> AppointmentsSettings:
        if self.url is None and (self.offices or self.services):
            raise ValueError("offices and services map the ids of the system at url: set url")
        return self


__all__ = ["AppointmentsSettings", "OfficeMap", "SimulatorSettings"]
