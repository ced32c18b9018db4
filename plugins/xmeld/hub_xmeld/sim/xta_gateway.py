"""An XTA 2 gateway on loopback (SOAP 1.2), for development and the tests.

Every SOAP header part and body part a client sends is validated against the WSDL's schemas
before anything else happens; invalid requests get the gateway's ``MessageSchemaViolation`` or
``ParameterIsNotValid`` fault. It keeps accounts, issues message ids, accepts messages into the
reader's mailbox and keeps a transport report per message (status 0 open, 1 green, 3 red).
Tests can make it fail: :meth:`fail_next` queues faults (``ParameterIsNotValid``,
``TechnicalProblem``) per operation, :attr:`delay` slows every answer.

Implemented: checkAccountActive, createMessageId, sendMessage, getTransportReport, and the
mailbox: getStatusList, getMessage, close (a message leaves the mailbox only when closed).
:meth:`deliver_to` puts a message into an account's mailbox, as a Meldebehörde's answer.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import XmlRejected, parse_xml
from hub_xmeld.xta_schema import (
    ACTIONS,
    OSCI_NS,
    OSCIMETA_NS,
    SOAP12_NS,
    WSA_NS,
    XTA_NS,
    problems,
)

FAULTS = {
    # name: (detail element, SOAP code, error code, text)
    "ParameterIsNotValid": (
        "ParameterIsNotValidException",
        "Sender",
        "9030",
        "Ein Parameter ist ungültig.",
    ),
    "TechnicalProblem": (
        "XTAWSTechnicalProblemException",
        "Receiver",
        "9010",
        "Technisches Problem im XTA-Server.",
    ),
    "PermissionDenied": (
        "PermissionDeniedException",
        "Sender",
        "9020",
        "Das Konto ist nicht berechtigt.",
    ),
    "InvalidMessageID": (
        "InvalidMessageIDException",
        "Sender",
        "9040",
        "Die MessageID ist unbekannt.",
    ),
    "MessageSchemaViolation": (
        "MessageSchemaViolationException",
        "Sender",
        "9050",
        "Die Nachricht verletzt das Schema.",
    ),
}


class SoapFault(Exception):
    def __init__(self, kind: str, reason: str | None = None):
        super().__init__(kind)
        self.kind = kind
        self.reason = reason


@dataclass
class StoredMessage:
    message_id: str
    metadata: Any  # oscimeta:MessageMetaData as sent
    container: Any  # xta:GenericContentContainer as sent
    reader: str
    received: datetime
    status: int = 1


@dataclass
class XtaGateway:
    schema: etree.XMLSchema
    accounts: set[str] = field(default_factory=set)
    identity: str = "hub-xta-simulator"
    delay: float = 0.0
    # Seconds to wait *after* an operation took effect before answering (by operation name):
    # the client may die or time out although the gateway has the message.
    slow_answers: dict[str, float] = field(default_factory=dict)
    issued: set[str] = field(default_factory=set)
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    mailboxes: dict[str, list[str]] = field(default_factory=dict)
    _faults: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, operation: str, fault: str, times: int = 1) -> None:
        with self._lock:
            self._faults.setdefault(operation, []).extend([fault] * times)

    @property
    def app(self) -> Starlette:
        routes = [
            Route(f"/{port}", self.handle, methods=["POST"])
            for port in ("management", "send", "msgbox")
        ]
        return Starlette(routes=routes)

    # --- HTTP -------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        action = _action(request)
        try:
            envelope = parse_xml(
                await request.body(),
                max_bytes=50 * 1024 * 1024,
                what="SOAP envelope",
                keep_comments=False,
            )
            operation = ACTIONS.get(action)
            if operation is None:
                raise SoapFault("ParameterIsNotValid", f"unknown action {action!r}")
            with self._lock:
                queued = self._faults.get(operation)
                injected = queued.pop(0) if queued else None
            if injected:
                raise SoapFault(injected, "injected by the test")
            header, body = _parts(envelope)
            for part in [*header, *body]:
                issues = problems(self.schema, part)
                if issues:
                    raise SoapFault("MessageSchemaViolation", "; ".join(issues[:3]))
            result = getattr(self, f"_{operation}")(header, body)
        except SoapFault as fault:
            return _fault(fault)
        except XmlRejected as exc:
            return _fault(SoapFault("ParameterIsNotValid", str(exc)))
        if self.slow_answers.get(operation):
            await asyncio.sleep(self.slow_answers[operation])
        if isinstance(result, tuple):
            return _envelope(result[1], headers=result[0])
        return _envelope(result)

    # --- operations ---------------------------------------------------------------------------

    def _author(self, header: list[Any]) -> str:
        author = next((h for h in header if h.tag == f"{{{OSCIMETA_NS}}}Author"), None)
        if author is None:
            raise SoapFault("ParameterIsNotValid", "the Author header is missing")
        identifier = (author.findtext(f"{{{OSCIMETA_NS}}}Identifier") or "").strip()
        if identifier not in self.accounts:
            raise SoapFault("PermissionDenied", f"no active account {identifier!r}")
        return identifier

    def _checkAccountActive(self, header: list[Any], body: list[Any]) -> list[Any]:
        self._author(header)
        return []

    def _createMessageId(self, header: list[Any], body: list[Any]) -> list[Any]:
        self._author(header)
        message_id = f"urn:de:xta:messageid:{self.identity}:{uuid.uuid4()}"
        with self._lock:
            self.issued.add(message_id)
        element = etree.Element(f"{{{WSA_NS}}}MessageID", nsmap={"wsa": WSA_NS})
        element.text = message_id
        return [element]

    def _sendMessage(self, header: list[Any], body: list[Any]) -> list[Any]:
        metadata = next((h for h in header if h.tag == f"{{{OSCIMETA_NS}}}MessageMetaData"), None)
        container = next((b for b in body if b.tag == f"{{{XTA_NS}}}GenericContentContainer"), None)
        if metadata is None or container is None:
            raise SoapFault("ParameterIsNotValid", "MessageMetaData and container are required")
        author = metadata.findtext(f".//{{{OSCIMETA_NS}}}Author/{{{OSCIMETA_NS}}}Identifier")
        if (author or "").strip() not in self.accounts:
            raise SoapFault("PermissionDenied", f"no active account {author!r}")
        message_id = (metadata.findtext(f".//{{{WSA_NS}}}MessageID") or "").strip()
        reader = (
            metadata.findtext(f".//{{{OSCIMETA_NS}}}Reader/{{{OSCIMETA_NS}}}Identifier") or ""
        ).strip()
        with self._lock:
            if message_id not in self.issued:
                raise SoapFault("ParameterIsNotValid", "MessageID was not issued by this server")
            if message_id in self.messages:
                raise SoapFault("ParameterIsNotValid", "this MessageID was already sent")
            self.messages[message_id] = StoredMessage(
                message_id, metadata, container, reader, datetime.now(UTC)
            )
            self.mailboxes.setdefault(reader, []).append(message_id)
        return []

    def deliver_to(self, reader: str, metadata: Any, content: bytes, filename: str) -> str:
        """Put a message into ``reader``'s mailbox (an answer from the other side)."""
        message_id = metadata.findtext(f".//{{{WSA_NS}}}MessageID")
        container = etree.Element(f"{{{XTA_NS}}}GenericContentContainer", nsmap={"xta": XTA_NS})
        cc = etree.SubElement(container, f"{{{XTA_NS}}}ContentContainer")
        message = etree.SubElement(
            cc,
            f"{{{XTA_NS}}}Message",
            contentType="application/xml",
            filename=filename,
            size=str(len(content)),
        )
        import base64

        message.text = base64.b64encode(content).decode()
        with self._lock:
            self.messages[message_id] = StoredMessage(
                message_id, metadata, container, reader, datetime.now(UTC)
            )
            self.mailboxes.setdefault(reader, []).append(message_id)
        return message_id

    def _mailbox_response(self, pending: int) -> Any:
        el = etree.Element(
            f"{{{OSCI_NS}}}MsgBoxResponse",
            nsmap={"osci": OSCI_NS},
            MsgBoxRequestID=f"urn:uuid:{uuid.uuid4()}",
        )
        if pending:
            etree.SubElement(el, "ItemsPending").text = str(pending)
        else:
            etree.SubElement(el, "NoMessageAvailable", reason="NoMatchingMessages")
        return el

    def _getStatusList(self, header: list[Any], body: list[Any]) -> tuple[list, list]:
        account = self._author(header)
        with self._lock:
            waiting = list(self.mailboxes.get(account, []))
            metas = [_copy(self.messages[m].metadata) for m in waiting]
        listing = etree.Element(f"{{{OSCI_NS}}}MsgStatusList", nsmap={"osci": OSCI_NS})
        for meta in metas:
            listing.append(meta)
        return [self._mailbox_response(len(waiting))], [listing]

    def _getMessage(self, header: list[Any], body: list[Any]) -> tuple[list, list]:
        account = self._author(header)
        wanted = body[0].findtext(f".//{{{WSA_NS}}}MessageID") if body else None
        with self._lock:
            if wanted not in self.mailboxes.get(account, []):
                raise SoapFault("InvalidMessageID", f"no message {wanted!r} in this mailbox")
            stored = self.messages[wanted]
        return ([_copy(stored.metadata), self._mailbox_response(1)], [_copy(stored.container)])

    def _close(self, header: list[Any], body: list[Any]) -> list[Any]:
        account = self._author(header)
        closed = [(e.text or "").strip() for e in body[0]] if body else []
        with self._lock:
            box = self.mailboxes.get(account, [])
            for message_id in closed:
                if message_id in box:
                    box.remove(message_id)
        return []

    def _getTransportReport(self, header: list[Any], body: list[Any]) -> list[Any]:
        self._author(header)
        message_id = (body[0].text or "").strip() if body else ""
        with self._lock:
            stored = self.messages.get(message_id)
        if stored is None:
            raise SoapFault("InvalidMessageID", f"no message {message_id!r}")
        report = etree.Element(f"{{{XTA_NS}}}TransportReport", nsmap={"xta": XTA_NS})
        report.append(_copy(stored.metadata))
        etree.SubElement(report, f"{{{XTA_NS}}}ReportTime").text = datetime.now(UTC).isoformat(
            timespec="seconds"
        )
        etree.SubElement(report, f"{{{XTA_NS}}}XTAServerIdentity").text = self.identity
        status = etree.SubElement(report, f"{{{XTA_NS}}}MessageStatus")
        etree.SubElement(status, f"{{{XTA_NS}}}Status").text = str(stored.status)
        return [report]


def _copy(element: Any) -> Any:
    import copy

    return copy.deepcopy(element)


def _action(request: Request) -> str:
    ctype = request.headers.get("content-type", "")
    for part in ctype.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "action":
            return value.strip('"')
    return request.headers.get("soapaction", "").strip('"')


def _parts(envelope: Any) -> tuple[list[Any], list[Any]]:
    if envelope.tag != f"{{{SOAP12_NS}}}Envelope":
        raise SoapFault("ParameterIsNotValid", "not a SOAP 1.2 envelope")
    header = envelope.find(f"{{{SOAP12_NS}}}Header")
    body = envelope.find(f"{{{SOAP12_NS}}}Body")
    if body is None:
        raise SoapFault("ParameterIsNotValid", "the SOAP body is missing")
    wanted = (OSCIMETA_NS, XTA_NS, OSCI_NS)
    headers = [
        h
        for h in (header if header is not None else [])
        if isinstance(h.tag, str) and etree.QName(h).namespace in wanted
    ]
    return headers, [b for b in body if isinstance(b.tag, str)]


def _envelope(body_parts: list[Any], headers: list[Any] | None = None) -> Response:
    env = etree.Element(f"{{{SOAP12_NS}}}Envelope", nsmap={"env": SOAP12_NS})
    head = etree.SubElement(env, f"{{{SOAP12_NS}}}Header")
    for part in headers or []:
        head.append(part)
    body = etree.SubElement(env, f"{{{SOAP12_NS}}}Body")
    for part in body_parts:
        body.append(part)
    return Response(
        etree.tostring(env, xml_declaration=True, encoding="UTF-8"),
        media_type="application/soap+xml; charset=utf-8",
    )


def _fault(fault: SoapFault) -> Response:
    element, code, number, text = FAULTS[fault.kind]
    env = etree.Element(f"{{{SOAP12_NS}}}Envelope", nsmap={"env": SOAP12_NS})
    f = etree.SubElement(etree.SubElement(env, f"{{{SOAP12_NS}}}Body"), f"{{{SOAP12_NS}}}Fault")
    etree.SubElement(
        etree.SubElement(f, f"{{{SOAP12_NS}}}Code"), f"{{{SOAP12_NS}}}Value"
    ).text = f"env:{code}"
    etree.SubElement(
        etree.SubElement(f, f"{{{SOAP12_NS}}}Reason"),
        f"{{{SOAP12_NS}}}Text",
        {"{http://www.w3.org/XML/1998/namespace}lang": "de"},
    ).text = f"{text} {fault.reason or ''}".strip()
    detail = etree.SubElement(
        etree.SubElement(f, f"{{{SOAP12_NS}}}Detail"),
        f"{{{XTA_NS}}}{element}",
        nsmap={"xta": XTA_NS},
    )
    error = etree.SubElement(detail, "errorCode")
    etree.SubElement(error, "code").text = number
    etree.SubElement(error, "name").text = text
    return Response(
        etree.tostring(env, xml_declaration=True, encoding="UTF-8"),
        status_code=400 if code == "Sender" else 500,
        media_type="application/soap+xml; charset=utf-8",
    )
