"""The citizen's Bestätigungscode (1706): accepted over HTTP, sent as a follow-up delivery.

``enqueue_code`` builds and validates the message and queues it with ``hub.follow_up`` — the
core's outbox, committed before the client hears 202 — so neither a crash nor a gateway outage
loses it, and backoff, dead letters, metrics and ``hub retry`` are the core's. The adapter's
``follow_up`` sends it with the same at-most-once rule as the 1704 (MessageID stored before
sending, the transport report deciding after a failed attempt).

Task names carry a digest of record and code, so the same code for the same record queues
nothing new and answers with the first message.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import select, update

import hub
from hub_xmeld import messages, tables

TASK_PREFIX = "1706:"


class CodeNotAccepted(Exception):
    """The code cannot be sent for this record; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, field: str, rule: str, message: str):
        super().__init__(message)
        self.status, self.field, self.rule = status, field, rule


def task_for(record_id: str, code: str) -> str:
    return TASK_PREFIX + hashlib.sha256(f"{record_id}\n{code}".encode()).hexdigest()[:40]


def enqueue_code(
    h: Any, instance: str, adapter: Any, record: hub.Record, code: str
) -> tuple[str, bool]:
    """Queue a 1706 for ``record`` with adapter ``instance``; returns its nachrichtenUUID and
    whether it is new (the same code for the same record again returns the first one)."""
    if not record.service.leika_key.startswith("99115005104"):
        raise CodeNotAccepted(409, "record", "service", "the record is not an Anmeldung")
    with h.store.reading() as conn:
        sent = conn.execute(
            select(tables.sent.c.nachrichten_uuid).where(
                tables.sent.c.record_id == str(record.id), tables.sent.c.message_type == "1704"
            )
        ).first()
    if sent is None:
        raise CodeNotAccepted(
            409, "record", "state", "the Anmeldung has not reached the Meldebehörde yet"
        )
    name = record.municipality.name or f"Meldebehörde {record.municipality.ars}"
    reader = messages.Authority.meldebehoerde(record.municipality.ars, name)
    root = messages.bestaetigungscode_1706(
        record, code, adapter.author, reader, messages.Product(), test=adapter.settings.test
    )
    try:
        data = messages.validated(root, adapter.schema)
    except messages.MessageInvalid as exc:
        raise CodeNotAccepted(422, "code", "xmeld", str(exc)) from None
    built = {
        "type": "1706",
        "uuid": root.findtext("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID"),
        "reader": reader.kennung,
        "xml": base64.b64encode(data).decode(),
    }
    queued = h.follow_up(str(record.id), instance, task_for(str(record.id), code), built)
    return queued.payload["uuid"], queued.created


def move_legacy_outbox(h: Any) -> int:
    """Codes a hub before the one outbox queued in ``xmeld_outbox`` and never sent become
    follow-ups (at start, once); returns how many moved."""
    with h.store.reading() as conn:
        rows = conn.execute(select(tables.outbox).where(tables.outbox.c.state == "pending")).all()
    moved = 0
    for row in rows:
        instance = h.delivery_of(row.record_id, "xmeld")
        if instance is None or instance not in h.config.adapters:
            continue  # no xmeld adapter for it in this configuration: leave it for one that has
        h.follow_up(
            row.record_id,
            instance,
            TASK_PREFIX + row.nachrichten_uuid.replace("-", ""),
            {
                "type": row.message_type,
                "uuid": row.nachrichten_uuid,
                "reader": row.reader,
                "xml": row.content,
                "xta_message_id": row.xta_message_id,
            },
        )
        with h.store.transaction() as conn:
            conn.execute(
                update(tables.outbox)
                .where(tables.outbox.c.nachrichten_uuid == row.nachrichten_uuid)
                .values(state="moved")
            )
        moved += 1
    return moved


__all__ = ["CodeNotAccepted", "enqueue_code", "move_legacy_outbox", "task_for"]
