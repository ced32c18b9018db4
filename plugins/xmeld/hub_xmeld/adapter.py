"""The ``xmeld`` adapter: records to the Meldebehörde as XMeld over XTA 2.

Anmeldung records (LeiKa ``99115005104…``) go out as ``1704``, Meldebescheinigung records
(``99115003…``) as ``1700``; other services are refused as permanent errors. The message is
built and validated once and checkpointed, so a retry sends the very same bytes; ``send_once``
checkpoints the XTA MessageID and asks the transport report before sending again. The
nachrichtenUUID is stored with the record, so the office's answers (which name it) find it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select

import hub
from hub import utcnow
from hub_xmeld import anmeldung, messages, schemas, tables, xta

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger("hub.xmeld")
SERVICE = "http://www.osci.de/xmeld2511a/xmeld2511aOnlinedienste.wsdl"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strasse: str
    postleitzahl: str
    wohnort: str
    hausnummer: str | None = None


class XtaSettings(hub.TlsSettings):
    """How to reach the XTA gateway (shared by the adapter and the inbox channel); mutual TLS
    from :class:`hub.TlsSettings`. zeep's synchronous transport is requests-based, so the
    files go to its session rather than to ``ctx.http``."""

    model_config = ConfigDict(extra="forbid")
    management_url: str
    send_url: str
    msgbox_url: str | None = None
    account: str = Field(description="Our XTA account identifier, e.g. psw:05111999")
    schema_dir: str | None = None
    timeout: float = Field(default=30.0, gt=0)

    def client(self) -> tuple[xta.XtaClient, schemas.XMeldSchema]:
        directory = schemas.default_dir(self.schema_dir)
        try:
            schema = schemas.load(directory)
        except schemas.SchemaUnavailable as exc:
            raise hub.ConfigurationError(str(exc)) from None
        if self.tls_configured:
            self.ssl_context()  # missing or unusable PEM files refuse the start, naming the field
        cert = (self.client_cert, self.client_key) if self.client_cert else None
        return xta.XtaClient(
            directory,
            management_url=self.management_url,
            send_url=self.send_url,
            msgbox_url=self.msgbox_url,
            author=xta.Party(self.account),
            timeout=self.timeout,
            cert=cert,  # type: ignore[arg-type]
            verify=self.ca_bundle or True,
        ), schema


class CodeLists(BaseModel):
    """``listVersionID`` of the code lists an instance must name (as your office expects)."""

    model_config = ConfigDict(extra="forbid")
    gemeindeschluessel: str = anmeldung.CodeListVersions.gemeindeschluessel
    staatsangehoerigkeit: str = anmeldung.CodeListVersions.staatsangehoerigkeit
    staatsgebiet: str = anmeldung.CodeListVersions.staatsgebiet
    geschlecht: str = anmeldung.CodeListVersions.geschlecht
    religion: str = anmeldung.CodeListVersions.religion


class XMeldSettings(XtaSettings):
    author_name: str
    author_address: Address
    author_email: str
    test: bool = Field(default=False, description="Mark messages as test messages")
    code_lists: CodeLists = Field(default_factory=CodeLists)


class InboxSettings(XtaSettings):
    """``[pollers.xmeld_inbox]``: our XTA mailbox (``interval`` is the core's)."""


def record_for(store: Any, nachrichten_uuid: str) -> str | None:
    """The record a sent message belongs to (answers name the message they answer)."""
    with store.reading() as conn:
        row = conn.execute(
            select(tables.sent.c.record_id).where(
                tables.sent.c.nachrichten_uuid == nachrichten_uuid
            )
        ).first()
    return row.record_id if row else None


class XMeldAdapter:
    def __init__(self, settings: XMeldSettings, h: Any):
        self.settings = settings
        self.hub = h
        self.client, self.schema = settings.client()
        a = settings.author_address
        self.author = messages.Authority(
            settings.account,
            settings.author_name,
            messages.PostalAddress(a.strasse, a.postleitzahl, a.wohnort, a.hausnummer),
            {"email": settings.author_email},
        )

    def _build(self, record: hub.Record) -> dict[str, str]:
        key = record.service.leika_key
        name = record.municipality.name or f"Meldebehörde {record.municipality.ars}"
        reader = messages.Authority.meldebehoerde(record.municipality.ars, name)
        if key.startswith("99115003"):
            root = messages.meldebescheinigung_1700(
                record, self.author, reader, messages.Product(), test=self.settings.test
            )
            kind = "1700"
        elif key.startswith("99115005104"):
            root = anmeldung.meldeschein_1704(
                record,
                self.author,
                reader,
                messages.Product(),
                versions=anmeldung.CodeListVersions(**self.settings.code_lists.model_dump()),
                test=self.settings.test,
            )
            kind = "1704"
        else:
            raise hub.PermanentError(f"the xmeld adapter has no message for service {key} yet")
        try:
            data = messages.validated(root, self.schema)
        except messages.MessageInvalid as exc:
            raise hub.PermanentError(str(exc)) from None
        uuid = root.findtext("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID")
        return {
            "type": kind,
            "uuid": uuid,
            "reader": reader.kennung,
            "xml": base64.b64encode(data).decode(),
        }

    def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        built = ctx.step("xmeld_message", lambda: self._build(record))
        return self._send(record, ctx, built)

    def _send(
        self, record: hub.Record, ctx: hub.DeliveryContext, built: dict[str, str]
    ) -> dict[str, Any]:
        """Send a built message at most once and remember it for the answers."""
        message_id = xta.send_once(
            ctx,
            self.client,
            xta.Party(built["reader"]),
            service=SERVICE,
            message_type=built["type"],
            payload_schema=schemas.XMELD_NS,
            content=base64.b64decode(built["xml"]),
            filename=f"{built['type']}-{built['uuid']}.xml",
        )
        self._remember(record, built, message_id)
        return {
            "xta_message_id": message_id,
            "nachrichtenUUID": built["uuid"],
            "type": built["type"],
        }

    def follow_up(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        """A follow-up message built when it was queued (the Bestätigungscode, 1706)."""
        built = ctx.payload
        if built.get("xta_message_id"):  # moved from the old outbox: a MessageID was taken
            ctx.step("xta_message_id", lambda: built["xta_message_id"])
        receipt = self._send(record, ctx, built)
        ctx.report_status(
            "xmeld:code_sent",
            "Bestätigungscode an die Meldebehörde übermittelt.",
            key=f"xmeld-sent:{built['uuid']}",
        )
        return receipt

    def _remember(self, record: hub.Record, built: dict[str, str], message_id: str) -> None:
        """Note the sent message for its answers; a retry that finds it noted changes nothing
        (one commit, where a step would take two)."""
        with self.hub.store.transaction() as conn:
            noted = conn.execute(
                select(tables.sent.c.nachrichten_uuid).where(
                    tables.sent.c.nachrichten_uuid == built["uuid"]
                )
            ).first()
            if noted is not None:
                return
            conn.execute(
                insert(tables.sent).values(
                    nachrichten_uuid=built["uuid"],
                    record_id=str(record.id),
                    message_type=built["type"],
                    xta_message_id=message_id,
                    sent_at=utcnow(),
                )
            )

    def check(self, ctx: hub.CheckContext) -> str:
        self.client.check_account_active()
        return f"XTA account {self.settings.account} active"


class InboxPoller:
    """The ``xmeld_inbox`` poller: reads our XTA mailbox and applies the Meldebehörde's
    answers (close-after-process); a gateway that is away raises, and the core backs off."""

    def __init__(self, settings: InboxSettings, h: Any):
        self.settings = settings
        self.hub = h
        self.client, self.schema = settings.client()

    def poll(self) -> None:
        from hub_xmeld.inbox import process_inbox

        process_inbox(self.hub, self.client, self.schema, lambda u: record_for(self.hub.store, u))


def make_inbox(settings: dict[str, Any], h: Any) -> InboxPoller:
    from hub import parse_settings

    return InboxPoller(parse_settings(InboxSettings, settings), h)


def make_adapter(settings: dict[str, Any], h: Any) -> XMeldAdapter:
    from hub import parse_settings

    return XMeldAdapter(parse_settings(XMeldSettings, settings), h)


__all__ = ["InboxPoller", "XMeldAdapter", "make_adapter", "make_inbox", "record_for"]
