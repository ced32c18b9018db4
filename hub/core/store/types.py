"""What the store takes and gives: records to insert, leases, outcomes, status changes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from hub.core.clock import utcnow  # noqa: F401  (the store's modules import it from here)
from hub.core.record import (
    Record,
    RecordStatus,
    Submission,
)

ACTIVE = (RecordStatus.accepted.value, RecordStatus.delivering.value)


@dataclass
class NewRecord:
    """A validated record ready to be stored, with the adapters it fans out to."""

    record: Record
    client: str
    idempotency_key: str | None
    body_sha256: str
    adapters: list[str]
    # Attachment rows (hub.core.attachments.StagedFile) committed with the record.
    files: Sequence[Any] = ()


@dataclass(frozen=True)
class Accepted:
    record_id: str
    status: str
    replayed: bool = False


@dataclass(frozen=True)
class IdempotencyConflict:
    record_id: str


@dataclass(frozen=True)
class Lease:
    delivery_id: int
    record_id: str
    adapter: str
    attempt: int  # 1-based number of the attempt this lease is for
    received_at: datetime
    status: str
    data: str
    task: str = ""  # '' for the record's delivery, else a follow-up's name
    payload: str | None = None  # a follow-up's JSON payload

    def record(self) -> Record:
        sub = Submission.model_validate_json(self.data)
        # Validated once above; assembling the record needs no second pass.
        return Record.model_construct(
            **dict(sub),
            id=uuid.UUID(self.record_id),
            received_at=self.received_at,
            status=RecordStatus(self.status),
            deliveries=[],
            history=[],
        )


@dataclass(frozen=True)
class Outcome:
    lease: Lease
    kind: Literal["delivered", "retry", "dead_letter"]
    error: str | None = None
    next_attempt_at: datetime | None = None
    receipt: dict[str, Any] | None = None


@dataclass(frozen=True)
class StatusChange:
    record_id: str
    status: str
    adapter: str | None
    detail: str | None = None


@dataclass
class RecordSummary:
    id: str
    status: str
    leika_key: str
    ars: str
    channel: str
    received_at: datetime
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "service": {"leika_key": self.leika_key},
            "municipality": {"ars": self.ars},
            "channel": self.channel,
            "received_at": self.received_at.isoformat(),
        }
