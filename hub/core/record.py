"""The standardized application record: what every channel produces and every adapter consumes.

Two models share one vocabulary:

* :class:`Submission` is what a channel hands in. Unknown fields are refused, so a typo in a
  client never silently drops data.
* :class:`Record` is a submission as the hub keeps it: with the hub-assigned ``id``, the overall
  ``status``, one delivery state per adapter and a timestamped history.

The JSON names are a public contract (``schemas/record.schema.json`` is generated from here and a
test fails when the two drift apart).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# A Leistungsschlüssel of the national LeiKa: 14 digits, national keys start with "99".
LeikaKey = Annotated[str, StringConstraints(pattern=r"^99[0-9]{12}$")]
# Amtlicher Regionalschlüssel: 12 digits (Land 2, RB 1, Kreis 2, Gemeindeverband 4, Gemeinde 3).
Ars = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Uuid = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
]
# Text fields carry names exactly as delivered (DIN 91379); only length and control chars are ruled.
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")
]


# Keys of Submission.references: "<system>.<name>", e.g. fitconnect.case_id.
ReferenceName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_]{0,63}$")
]
Reference = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")
]


class Channel(StrEnum):
    """How the application reached the municipality."""

    portal = "portal"
    koffer = "koffer"
    buergermobil = "buergermobil"
    popup = "popup"
    home_visit = "home_visit"
    counter = "counter"
    api = "api"


class TrustLevel(StrEnum):
    """eIDAS / TR-03107 Vertrauensniveau of an identification, lowest first."""

    basis = "basis"
    substantiell = "substantiell"
    hoch = "hoch"

    @property
    def rank(self) -> int:
        return _TRUST_RANK[self]


_TRUST_RANK = {TrustLevel.basis: 1, TrustLevel.substantiell: 2, TrustLevel.hoch: 3}


class RecordStatus(StrEnum):
    """Lifecycle of a record (and of each of its deliveries)."""

    accepted = "accepted"
    delivering = "delivering"
    delivered = "delivered"
    dead_letter = "dead_letter"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Service(_Strict):
    leika_key: LeikaKey = Field(description="Leistungsschlüssel (14 digits, national keys 99…)")
    name: Text | None = Field(
        default=None, description="Service name; filled by catalogue enrichers"
    )
    ozg_id: str | None = Field(default=None, description="OZG-Leistung id, where known")
    ozg_topic: Text | None = Field(
        default=None, description="OZG-Themenfeld, where known; filled by catalogue enrichers"
    )


class Municipality(_Strict):
    ars: Ars = Field(description="Amtlicher Regionalschlüssel of the responsible municipality")
    name: Text | None = None


class Location(_Strict):
    name: Text | None = Field(default=None, description="Where the application was captured")
    device_id: Text | None = Field(
        default=None, description="Capturing device, e.g. a Bürgerkoffer"
    )
    einsatz_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] | None = (
        Field(default=None, description="The mobile-office deployment it was captured on")
    )


class Address(_Strict):
    street: Text | None = None
    postal_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z \-]{3,10}$")] | None = None
    city: Text | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None, description="ISO 3166-1 alpha-2"
    )


class Identity(_Strict):
    method: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")] = Field(
        description="How the applicant was identified: bundid, eid, document_check, …"
    )
    trust_level: TrustLevel
    bpk2: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-:.]{16,128}$")] | None = Field(
        default=None, description="BundID's stable per-service-provider key"
    )
    mailbox_uuid: Uuid | None = Field(
        default=None, description="BundID Postkorb-Handle (legacyPostkorbHandle): the mailbox"
    )
    application_id: Uuid | None = Field(
        default=None, description="BundID Antrags-ID (applicationId) for the status monitor"
    )


class Applicant(_Strict):
    given_names: Text | None = None
    family_name: Text
    birth_name: Text | None = None
    date_of_birth: date | None = None
    place_of_birth: Text | None = None
    address: Address | None = None
    nationality: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")] | None = None
    email: (
        Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)] | None
    ) = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()/\-]{3,32}$")] | None = None
    identity: Identity | None = None


class Attachment(_Strict):
    """Metadata of a document that belongs to the record; the bytes live in an attachment store."""

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-.]{1,128}$")]
    purpose: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    # RFC 2045 type/subtype as FIT-Connect's metadata schema allows it (any case, x_ names).
    media_type: Annotated[str, StringConstraints(max_length=128, pattern=r"^[-\w.]+/[-\w.+]+$")]
    size: Annotated[int, Field(ge=0)]
    sha256: Sha256Hex
    filename: Text | None = Field(default=None, description="The name it was uploaded with")


class Authority(_Strict):
    """The authority responsible for the service at the place (Zuständige Stelle)."""

    id: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="Organisation unit id, e.g. PVOG's L100002.OE.…"
    )
    name: Text
    role: Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")] | None = Field(
        default=None, description="XZuFi role code; 01 = Zuständige Stelle"
    )
    address: Address | None = None
    phone: Text | None = None
    email: Text | None = None
    url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    source: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, description="Where it was resolved: offline, pvog, cache"
    )


class Notifications(_Strict):
    """How the citizen wants to hear about this case: their choice, with their consent."""

    channels: list[Literal["email", "postfach", "letter"]] = Field(
        min_length=1, max_length=3, description="In the citizen's order of preference"
    )
    consent: bool = Field(description="The citizen agreed to be told on these channels")
    language: Literal["de", "en"] = "de"

    @field_validator("channels")
    @classmethod
    def _once_each(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels):
            raise ValueError("name each channel once")
        return channels


class Submission(_Strict):
    """An application as a channel hands it in."""

    service: Service
    municipality: Municipality
    channel: Channel
    location: Location | None = None
    captured_at: datetime | None = None
    applicant: Applicant | None = None
    payload: dict[str, Any] = Field(default_factory=dict, description="Service-specific data")
    attachments: list[Attachment] = Field(default_factory=list)
    authority: Authority | None = Field(
        default=None, description="Responsible authority; filled by catalogue enrichers"
    )
    references: dict[ReferenceName, Reference] = Field(
        default_factory=dict,
        description="The application's ids in other systems, e.g. fitconnect.submission_id",
        max_length=32,
    )
    notifications: Notifications | None = Field(
        default=None, description="How the citizen wants to be told about the case"
    )


class HistoryEntry(BaseModel):
    at: datetime
    status: str
    adapter: str | None = None
    detail: str | None = None


class DeliveryState(BaseModel):
    adapter: str
    task: str | None = Field(
        default=None, description="A follow-up's name; null for the record's own delivery"
    )
    status: RecordStatus
    attempts: int = 0
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None


class Record(Submission):
    """A submission as the hub keeps it."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    received_at: datetime
    status: RecordStatus = RecordStatus.accepted
    deliveries: list[DeliveryState] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)

    def submission(self) -> Submission:
        """The channel-provided part of the record."""
        return Submission.model_validate(self.model_dump(include=SUBMISSION_FIELDS))

    def submission_json(self) -> str:
        """The channel-provided part as JSON, as the store keeps it."""
        return self.model_dump_json(include=SUBMISSION_FIELDS)


SUBMISSION_FIELDS = frozenset(Submission.model_fields)


def overall_status(delivery_statuses: list[RecordStatus]) -> RecordStatus:
    """The record's status derived from its deliveries: the least advanced one wins."""
    if not delivery_statuses:
        return RecordStatus.accepted
    if RecordStatus.dead_letter in delivery_statuses:
        return RecordStatus.dead_letter
    if all(s is RecordStatus.delivered for s in delivery_statuses):
        return RecordStatus.delivered
    if all(s is RecordStatus.accepted for s in delivery_statuses):
        return RecordStatus.accepted
    return RecordStatus.delivering
