"""``[plugins.notify]`` (what to tell and when) and ``[adapters.<name>]`` of type ``notify``
(how: the mail server, letters)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

import hub

# The messages the plugin can write (a template each, in German and English).
EVENTS = (
    "received",
    "received_by_office",
    "ready_for_pickup",
    "rejected",
    "registered",
    "come_in_person",
    "appointment_booked",
    "appointment_cancelled",
    "appointment_moved",
    "reminder",
)
# A registered status → the message it triggers (the statuses of the bundled plugins).
DEFAULT_TRIGGERS = {
    "passport_office:received": "received_by_office",
    "passport_office:ready_for_pickup": "ready_for_pickup",
    "passport_office:rejected": "rejected",
    "meldebehoerde:registered": "registered",
    "meldebehoerde:rejected": "rejected",
    "meldebehoerde:not_electronic": "come_in_person",
    "fitconnect:rejected": "rejected",
}
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")


class ServiceWords(BaseModel):
    """What the citizen reads about a service: its name, what to bring, the fee."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    bring: str | None = Field(default=None, max_length=1000)
    fee: str | None = Field(default=None, max_length=200)


class NotifySettings(BaseModel):
    """``[plugins.notify]``."""

    model_config = ConfigDict(extra="forbid")
    adapter: str = Field(default="notify", description="The [adapters.*] instance that sends")
    public_url: str = Field(
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Where citizens reach this hub (unsubscribe links)",
    )
    sender_name: str = Field(default="Ihre Stadtverwaltung", max_length=200)
    quiet_hours: str | None = Field(
        default="21:00-07:00",
        description='HH:MM-HH:MM, local time: nothing is sent then ("" for none)',
    )
    reminders: list[Annotated[int, Field(ge=1, le=336)]] = Field(
        default=[48, 24], max_length=4, description="Hours before an appointment"
    )
    triggers: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")], str
    ] = Field(default_factory=lambda: dict(DEFAULT_TRIGGERS))
    templates_dir: str | None = Field(
        default=None,
        description="The municipality's own templates: <lang>/<event>.txt, or "
        "<lang>/<LeiKa key>/<event>.txt for one service; the bundled ones where none",
    )
    services: dict[Annotated[str, StringConstraints(pattern=r"^99[0-9]{12}$")], ServiceWords] = (
        Field(default_factory=dict, description="LeiKa key → name, what to bring, fee")
    )

    @field_validator("quiet_hours")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value == "":
            return None
        if value is not None and not CLOCK.match(value):
            raise ValueError("HH:MM-HH:MM, e.g. 21:00-07:00")
        return value

    @field_validator("triggers")
    @classmethod
    def _known_events(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted({event for event in value.values() if event not in EVENTS})
        if unknown:
            raise ValueError(f"no template for {unknown}; known: {', '.join(EVENTS)}")
        return value

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours ``now`` (local time) lies in, or None."""
        if self.quiet_hours is None:
            return None
        first, last = (time.fromisoformat(t) for t in self.quiet_hours.split("-"))
        clock = now.timetz().replace(tzinfo=None)
        overnight = first > last
        inside = (clock >= first or clock < last) if overnight else first <= clock < last
        if not inside:
            return None
        end = datetime.combine(now.date(), last, now.tzinfo)
        return end + timedelta(days=1) if end <= now else end


class NotifyAdapterSettings(hub.TlsSettings):
    """``[adapters.<name>]`` with ``type = "notify"``: the mail server (STARTTLS by default;
    ``ca_bundle`` for a private CA) and whether letters are the fallback."""

    model_config = ConfigDict(extra="forbid")
    smtp_host: str | None = Field(default=None, description="None: no e-mail from this hub")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = Field(default=True, description="Refuse a server that cannot STARTTLS")
    username: str | None = None
    password: hub.Secret | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="The From address")
    timeout: float = Field(default=20, gt=0, le=300)
    letters: bool = Field(default=True, description="Letters when no e-mail can be sent")
    # The BundID mailbox through FIT-Connect's ZBP adapter (OAuth client credentials).
    postfach_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$", description="Where messages for it go"
    )
    postfach_token_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    postfach_client_id: str | None = None
    postfach_client_secret: hub.Secret | None = None

    @model_validator(mode="after")
    def _postfach_complete(self) -> NotifyAdapterSettings:
        given = [self.postfach_url, self.postfach_token_url, self.postfach_client_id,
                 self.postfach_client_secret]  # fmt: skip
        if any(v is not None for v in given) and not all(v is not None for v in given):
            raise ValueError(
                "postfach_url, postfach_token_url, postfach_client_id and "
                "postfach_client_secret go together"
            )
        return self


def _build(h: object) -> NotifySettings:
    return hub.parse_settings(NotifySettings, h.config.plugins.get("notify", {}))  # type: ignore[attr-defined]


# Parsed once per hub: the status hook runs for every status change of every record.
SETTINGS: hub.PluginState[NotifySettings] = hub.PluginState("notify", _build)

__all__ = [
    "DEFAULT_TRIGGERS",
    "EVENTS",
    "SETTINGS",
    "NotifyAdapterSettings",
    "NotifySettings",
    "ServiceWords",
]
