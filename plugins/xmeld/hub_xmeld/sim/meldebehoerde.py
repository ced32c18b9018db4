"""A Meldebehörde behind the XTA gateway, for development and the tests.

It is an XTA client like any office's Fachverfahren: it polls its own mailbox, validates what
arrives, answers through the gateway and closes each message after handling it.

- ``1704`` Anmeldung: ``1705`` status 01 (an Aktenzeichen, a deadline and a Bestätigungscode "sent
  by letter" — :attr:`codes`); then ``1707`` Ergebnis with a Meldebestätigung PDF per person,
  either after the right ``1706`` or, with ``result_delay``, on its own after that many seconds.
- ``1706`` with a wrong code: ``1705`` status 03.
- ``1700`` Meldebescheinigung: ``1701`` with the certificate as a PDF.
- Anything invalid or unexpected: the XInneres ``0010`` Rückweisung, with the message returned.
"""

from __future__ import annotations

import base64
import copy
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import structlog
from lxml import etree

from hub_xmeld import messages, xta
from hub_xmeld.messages import XMELD_NS, Authority, Product, _code, _sub
from hub_xmeld.schemas import RUECKWEISUNG_NS, XMeldSchema

log = structlog.get_logger("hub.xmeld.office")
NS = {"x": XMELD_NS}
SERVICE = "http://www.osci.de/xmeld2511a/xmeld2511aOnlinedienste.wsdl"
PRODUCT = Product("Meldebehörde-Simulator", "hub contributors")
ORIGIN = "nachrichtenkopf.g2g/identifikation.nachricht"


def simple_pdf(lines: list[str]) -> bytes:
    """A small, well-formed one-page PDF (ASCII text in Helvetica)."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "BT /F1 12 Tf 72 770 Td " + " ".join(f"({esc(t)}) Tj 0 -18 Td" for t in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("ascii")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode("ascii")
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode("ascii")
    return bytes(out)


@dataclass
class Case:
    aktenzeichen: str
    code: str
    anmeldung: Any  # the 1704 as received
    portal: Authority
    result_due: float | None = None
    done: bool = False


@dataclass
class MeldebehoerdeSimulator:
    client: xta.XtaClient
    schema: XMeldSchema
    office: Authority
    result_delay: float | None = None
    interval: float = 0.2
    cases: dict[str, Case] = field(default_factory=dict)
    sent: list[tuple[str, str]] = field(default_factory=list)  # (type, reader) per answer
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def codes(self) -> dict[str, str]:
        """Aktenzeichen → the Bestätigungscode the office "posted" to the citizen."""
        with self._lock:
            return {a: c.code for a, c in self.cases.items()}

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # keep serving: a simulator must not die on one message
                log.warning("office_poll_failed", error=type(exc).__name__)
            stop.wait(self.interval)

    def poll_once(self) -> int:
        handled = 0
        for waiting in xta.status_list(self.client):
            self.handle(xta.fetch(self.client, waiting.message_id))
            xta.close(self.client, waiting.message_id)
            handled += 1
        now = time.monotonic()
        with self._lock:
            due = [
                c
                for c in self.cases.values()
                if not c.done and c.result_due and c.result_due <= now
            ]
        for case in due:
            self._result(case, case.anmeldung)
        return handled

    # --- answering ----------------------------------------------------------------------------

    def handle(self, content: bytes) -> None:
        root, issues = self.schema.validate_bytes(content, what="incoming message")
        if root is None:
            log.warning("office_unreadable_message")
            return
        portal = _portal(root)
        if issues:
            self._rueckweisung(root, content, portal, "S999")
            return
        kind = etree.QName(root).localname
        if kind == "onlinedienste.anmeldung.meldeschein.1704":
            self._anmeldung(root, portal)
        elif kind == "onlinedienste.anmeldung.bestaetigungscode.1706":
            self._bestaetigungscode(root, portal)
        elif kind == "onlinedienste.abrufanfrage.meldebescheinigung.1700":
            self._meldebescheinigung(root, portal)
        else:
            self._rueckweisung(root, content, portal, "S999")

    def _anmeldung(self, root: Any, portal: Authority) -> None:
        with self._lock:
            aktenzeichen = f"33-A-{date.today().year}-{len(self.cases) + 1:04d}"
            case = Case(aktenzeichen, secrets.token_hex(3).upper(), root, portal)
            if self.result_delay is not None:
                case.result_due = time.monotonic() + self.result_delay
            self.cases[aktenzeichen] = case
        self._status(root, portal, aktenzeichen, "01", frist=date.today() + timedelta(days=14))

    def _bestaetigungscode(self, root: Any, portal: Authority) -> None:
        code = root.findtext("x:code", namespaces=NS)
        with self._lock:
            case = next((c for c in self.cases.values() if c.code == code and not c.done), None)
        if case is None:
            self._status(root, portal, "unbekannt", "03")
            return
        self._result(case, root)

    def _status(
        self,
        origin: Any,
        portal: Authority,
        aktenzeichen: str,
        code: str,
        frist: date | None = None,
    ) -> None:
        out = messages.message(
            "onlinedienste.anmeldung.statusmitteilung.1705", "1705", self.office, portal, PRODUCT
        )
        out.append(copy.deepcopy(origin.find("x:identifikation", NS)))
        _sub(out, "aktenzeichen", aktenzeichen, ns=XMELD_NS)
        _code(out, "status", code, ns=XMELD_NS)
        if frist:
            _sub(out, "fristende", frist.isoformat(), ns=XMELD_NS)
        _origin(out, origin)
        self._send(out, portal, "1705")

    def _result(self, case: Case, origin: Any) -> None:
        with self._lock:
            if case.done:
                return
            case.done = True
        a = case.anmeldung
        out = messages.message(
            "onlinedienste.anmeldung.ergebnis.1707", "1707", self.office, case.portal, PRODUCT
        )
        out.append(copy.deepcopy(a.find("x:identifikation", NS)))
        _sub(out, "aktenzeichen", case.aktenzeichen, ns=XMELD_NS)
        registration = _sub(_sub(out, "ergebnis", ns=XMELD_NS), "anmeldung", ns=XMELD_NS)
        people = [
            a.find("x:berechtigtePerson", NS),
            a.find("x:weitereMitzuziehendePerson/x:partner/x:personendaten", NS),
            *a.findall("x:weitereMitzuziehendePerson/x:kind", NS),
        ]
        dwelling = a.find("x:ergaenzendeMeldedaten/x:wohnung", NS)
        for number, person in enumerate([p for p in people if p is not None], start=1):
            self._zuziehend(registration, person, dwelling, case.aktenzeichen, number)
        _origin(out, origin)
        self._send(out, case.portal, "1707")

    def _zuziehend(self, parent: Any, person: Any, dwelling: Any, az: str, number: int) -> None:
        x = XMELD_NS
        data = person.find("x:bestaetigteMeldedaten/x:personendaten", NS)
        entry = _sub(parent, "zuziehendePerson", ns=x)
        confirmation = _sub(entry, "meldebestaetigung", ns=x)
        name = _sub(confirmation, "name", ns=x)
        for part in ("familienname.unstrukturiert", "vornamen"):
            found = data.find(f"x:name/x:{part}", NS)
            if found is not None:
                name.append(copy.deepcopy(found))
        born = data.find("x:geburtsangaben/x:geburtsdatum", NS)
        birth = _sub(confirmation, "geburtsdatum", ns=x)
        if born is not None:
            birth.extend(copy.deepcopy(list(born)))
        else:
            _sub(birth, "unbekannt", "true")
        wohnung = _sub(confirmation, "wohnung", ns=x)
        wohnung.append(copy.deepcopy(dwelling.find("x:anschrift", NS)))
        _sub(wohnung, "datumAnmeldungBeiAnmeldebehoerde", date.today().isoformat(), ns=x)
        moved_in = _sub(wohnung, "datumDesBeziehens", ns=x)
        _sub(moved_in, "datum", dwelling.findtext("x:datumDesBeziehens", namespaces=NS))
        status = person.findtext("x:statusDerNeuenWohnung/code", namespaces=NS)
        _code(wohnung, "statusderwohnung", status, ns=x)
        pdf = simple_pdf(["Meldebestaetigung", f"Aktenzeichen {az}", f"Person {number}"])
        _sub(entry, "pdfDokument", base64.b64encode(pdf).decode(), ns=x)

    def _meldebescheinigung(self, root: Any, portal: Authority) -> None:
        out = messages.message(
            "onlinedienste.meldebescheinigungAntwort.1701", "1701", self.office, portal, PRODUCT
        )
        info = _sub(_sub(out, "antwortAbrufanfrage", ns=XMELD_NS), "auskunft", ns=XMELD_NS)
        _code(info, "ergebnisstatus", "01", ns=XMELD_NS)
        pdf = simple_pdf(["Meldebescheinigung", "(einfache Meldebescheinigung)"])
        certificate = _sub(info, "meldebescheinigung", ns=XMELD_NS)
        _sub(certificate, "pdfDokument", base64.b64encode(pdf).decode(), ns=XMELD_NS)
        _origin(out, root)
        self._send(out, portal, "1701")

    def _rueckweisung(self, root: Any, content: bytes, portal: Authority, code: str) -> None:
        out = messages.message(
            "rueckweisung.asynchron.0010",
            "0010",
            self.office,
            portal,
            PRODUCT,
            standard=("xirts", RUECKWEISUNG_NS, "XInneres-Rueckweisung", "6"),
        )
        body = _sub(out, "rueckweisung")
        _code(_sub(body, "rueckweisungsgrund"), "grund", code)
        header = root.find(ORIGIN)
        if header is not None and header.findtext("nachrichtenUUID"):
            ident = _sub(body, "idNachricht")
            for child in header:
                ident.append(copy.deepcopy(child))
            kind = ident.find("nachrichtentyp")
            if kind is not None and kind.get("listURI") is None:  # Typ 4: the list is named
                kind.set("listURI", "urn:de:xmeld:schluesseltabelle:xmeld.nachrichten")
                kind.set("listVersionID", root.get("version") or "25.11a")
        _sub(body, "nachricht", base64.b64encode(content).decode())
        self._send(out, portal, "0010")

    def _send(self, root: Any, portal: Authority, kind: str) -> None:
        data = messages.validated(root, self.schema)
        message_id = self.client.create_message_id()
        self.client.send_message(
            message_id,
            xta.Party(portal.kennung),
            service=SERVICE,
            message_type=kind,
            payload_schema=etree.QName(root).namespace,
            content=data,
            filename=f"{kind}.xml",
        )
        with self._lock:
            self.sent.append((kind, portal.kennung))


def _portal(root: Any) -> Authority:
    """Who wrote the message: the one to answer."""
    author = root.find("nachrichtenkopf.g2g/autor")
    if author is None:
        return Authority("unknown:0", "unknown", None)
    return Authority(
        author.findtext("kennung") or "unknown:0", author.findtext("name") or "?", None
    )


def _origin(out: Any, origin: Any) -> None:
    """``ursprungsnachricht``: the identification of the message being answered."""
    element = _sub(out, "ursprungsnachricht", ns=XMELD_NS)
    for child in origin.find(ORIGIN):
        element.append(copy.deepcopy(child))


__all__ = ["MeldebehoerdeSimulator", "simple_pdf"]
