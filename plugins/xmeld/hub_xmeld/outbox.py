"""The citizen's Bestätigungscode (1706): accepted over HTTP, sent over XTA by the inbox loop.

``enqueue_code`` builds and validates the message and commits it to ``xmeld_outbox`` before the
client hears 202, so neither a crash nor a gateway outage loses it. ``send_pending`` sends what
waits with the same at-most-once rule as deliveries: the XTA MessageID is stored before sending,
and after a failed attempt the transport report decides whether it went out already.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import insert, select, update

import hub
from hub import utcnow
from hub_xmeld import messages, schemas, tables, xta

log = structlog.get_logger("hub.xmeld")
SERVICE = "http://www.osci.de/xmeld2511a/xmeld2511aOnlinedienste.wsdl"


class CodeNotAccepted(Exception):
    """The code cannot be sent for this record; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, field: str, rule: str, message: str):
        super().__init__(message)
        self.status, self.field, self.rule = status, field, rule


def enqueue_code(h: Any, adapter: Any, record: hub.Record, code: str) -> tuple[str, bool]:
    """Queue a 1706 for ``record``; returns its nachrichtenUUID and whether it is new (the same
    code for the same record again returns the first one)."""
    if not record.service.leika_key.startswith("99115005104"):
        raise CodeNotAccepted(409, "record", "service", "the record is not an Anmeldung")
    with h.store.read_engine.connect() as conn:
        sent = conn.execute(
            select(tables.sent.c.nachrichten_uuid).where(
                tables.sent.c.record_id == str(record.id), tables.sent.c.message_type == "1704"
            )
        ).first()
        if sent is None:
            raise CodeNotAccepted(
                409, "record", "state", "the Anmeldung has not reached the Meldebehörde yet"
            )
        for row in conn.execute(
            select(tables.outbox).where(tables.outbox.c.record_id == str(record.id))
        ):
            if _code_of(row.content) == code:
                return row.nachrichten_uuid, False
    name = record.municipality.name or f"Meldebehörde {record.municipality.ars}"
    reader = messages.Authority.meldebehoerde(record.municipality.ars, name)
    root = messages.bestaetigungscode_1706(
        record, code, adapter.author, reader, messages.Product(), test=adapter.settings.test
    )
    try:
        data = messages.validated(root, adapter.schema)
    except messages.MessageInvalid as exc:
        raise CodeNotAccepted(422, "code", "xmeld", str(exc)) from None
    uuid = root.findtext("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID")
    with h.store.engine.begin() as conn:
        conn.execute(
            insert(tables.outbox).values(
                nachrichten_uuid=uuid,
                record_id=str(record.id),
                message_type="1706",
                reader=reader.kennung,
                content=base64.b64encode(data).decode(),
                state="pending",
                attempts=0,
                created_at=utcnow(),
            )
        )
    return uuid, True


def _code_of(content: str) -> str | None:
    from hub import parse_xml

    data = base64.b64decode(content)
    root = parse_xml(data, max_bytes=len(data) + 1, what="queued 1706")  # no DTDs, ever
    return root.findtext(f"{{{schemas.XMELD_NS}}}code")


@dataclass
class _RowSteps:
    """What ``xta.send_once`` needs from a delivery context, backed by an outbox row."""

    store: Any
    row: Any
    log: Any = log

    def done(self, name: str) -> bool:
        # A stored MessageID means an earlier try may have sent it: let the report decide.
        return bool(self.row.xta_message_id)

    def step(self, name: str, fn: Any) -> Any:
        if self.row.xta_message_id:
            return self.row.xta_message_id
        message_id = fn()
        with self.store.engine.begin() as conn:
            conn.execute(
                update(tables.outbox)
                .where(tables.outbox.c.nachrichten_uuid == self.row.nachrichten_uuid)
                .values(xta_message_id=message_id)
            )
        return message_id


def send_pending(h: Any, client: xta.XtaClient) -> int:
    """Send every waiting message; returns how many went out. Stops at a transient error (the
    gateway is down: the next poll tries again)."""
    with h.store.read_engine.connect() as conn:
        rows = conn.execute(
            select(tables.outbox)
            .where(tables.outbox.c.state == "pending")
            .order_by(tables.outbox.c.created_at)
        ).all()
    sent = 0
    for row in rows:
        where = tables.outbox.c.nachrichten_uuid == row.nachrichten_uuid
        try:
            message_id = xta.send_once(
                _RowSteps(h.store, row),  # type: ignore[arg-type]
                client,
                xta.Party(row.reader),
                service=SERVICE,
                message_type=row.message_type,
                payload_schema=schemas.XMELD_NS,
                content=base64.b64decode(row.content),
                filename=f"{row.message_type}-{row.nachrichten_uuid}.xml",
            )
        except hub.TransientError as exc:
            with h.store.engine.begin() as conn:
                conn.execute(
                    update(tables.outbox)
                    .where(where)
                    .values(attempts=row.attempts + 1, last_error=type(exc).__name__)
                )
            log.warning("xmeld_outbox_retry_later", error=type(exc).__name__)
            break
        except hub.AdapterError as exc:
            with h.store.engine.begin() as conn:
                conn.execute(
                    update(tables.outbox)
                    .where(where)
                    .values(state="failed", attempts=row.attempts + 1, last_error=str(exc)[:500])
                )
            h.report_status(
                row.record_id,
                "xmeld:code_failed",
                f"Der Bestätigungscode konnte nicht übermittelt werden: {exc}",
                adapter_type="xmeld",
                key=f"outbox:{row.nachrichten_uuid}",
            )
            continue
        with h.store.engine.begin() as conn:
            conn.execute(
                update(tables.outbox)
                .where(where)
                .values(state="sent", xta_message_id=message_id, sent_at=utcnow())
            )
            conn.execute(
                insert(tables.sent).values(
                    nachrichten_uuid=row.nachrichten_uuid,
                    record_id=row.record_id,
                    message_type=row.message_type,
                    xta_message_id=message_id,
                    sent_at=utcnow(),
                )
            )
        h.report_status(
            row.record_id,
            "xmeld:code_sent",
            "Bestätigungscode an die Meldebehörde übermittelt.",
            adapter_type="xmeld",
            key=f"outbox:{row.nachrichten_uuid}",
        )
        sent += 1
    return sent


__all__ = ["CodeNotAccepted", "enqueue_code", "send_pending"]
