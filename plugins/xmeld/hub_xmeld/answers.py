"""Reading the Meldebehörde's answers and turning them into the record's status and documents.

Handled: ``1705`` Statusmitteilung, ``1707`` Ergebnis of an Anmeldung, ``1701`` answer to a
Meldebescheinigung request, and the XInneres ``0010`` Rückweisung. An answer is validated against
the official schema before anything in it is believed; it names the message it answers
(``ursprungsnachricht``, or for a Rückweisung ``idNachricht`` / the returned message), which is
how the sender finds the record. The office's words are the code lists' names for its codes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from hub import XmlRejected, parse_xml
from hub_xmeld import codes
from hub_xmeld.schemas import RUECKWEISUNG_NS, XMELD_NS, Issue, XMeldSchema

NS = {"x": XMELD_NS, "r": RUECKWEISUNG_NS}
HEAD_UUID = "nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID"

# Code list urn:xoev-de:xmeld:codeliste:anmeldung.status → the record's status.
ANMELDUNG_STATUS = {"01": "continues", "02": "not_electronic", "03": "code_invalid"}

# Every status an answer can give the record, as meldebehoerde:<status> (register_statuses).
STATUSES = {
    "continues": "Statusmitteilung (1705, code 01): the office continues the Anmeldung",
    "not_electronic": "Statusmitteilung (1705, code 02): it cannot be finished electronically; "
    "the citizen has to come to the office",
    "code_invalid": "Statusmitteilung (1705, code 03): the Bestätigungscode was not valid",
    "other_status": "Statusmitteilung (1705) with a code this version does not know",
    "registered": "Ergebnis (1707): the office registered the move",
    "rejected": "Ergebnis (1707) Ablehnung: the office refused the Anmeldung",
    "certificate_issued": "Antwort (1701): the Meldebescheinigung came with it",
    "certificate_answered": "Antwort (1701): answered without a Meldebescheinigung",
    "certificate_refused": "Antwort (1701): the office will not issue the certificate",
    "message_rejected": "Rückweisung (0010): the office's software refused our message as invalid",
}

# The office's last word on a case (reports: time to the final status).
FINAL = (
    "registered",
    "rejected",
    "certificate_issued",
    "certificate_answered",
    "certificate_refused",
)


class AnswerRefused(ValueError):
    """An incoming message that is not a valid answer; ``issues`` say why."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues[:5]))


@dataclass(frozen=True)
class Document:
    """A document that came with an answer, to be kept as an attachment of the record."""

    attachment_id: str
    purpose: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Answer:
    kind: str  # nachrichtentyp: 1705, 1707, 1701, 0010
    message_uuid: str
    answers_uuid: str | None  # the nachrichtenUUID of the message this answers
    status: str  # goes into the record's history as meldebehoerde:<status>
    text: str  # the office's words
    aktenzeichen: str | None = None
    status_code: str | None = None
    fristende: date | None = None
    documents: tuple[Document, ...] = field(default_factory=tuple)

    @property
    def pdf(self) -> bytes | None:
        pdfs = [d.data for d in self.documents if d.media_type == "application/pdf"]
        return pdfs[0] if pdfs else None


Statusmitteilung = Answer  # the name the first readers used


def read_answer(data: bytes, schema: XMeldSchema) -> Answer:
    root, issues = schema.validate_bytes(data, what="answer")
    if issues:
        raise AnswerRefused(issues)
    kind = etree.QName(root).localname
    reader = _READERS.get(kind)
    if reader is None:
        raise AnswerRefused(
            [Issue(root.sourceline or 0, f"/{kind}", "not an answer the hub reads")]
        )
    return reader(root, schema.directory)


def _b64(text: str | None) -> bytes | None:
    return base64.b64decode(text) if text else None


def _pdf(attachment_id: str, purpose: str, text: str | None) -> tuple[Document, ...]:
    data = _b64(text)
    return (Document(attachment_id, purpose, "application/pdf", data),) if data else ()


def _statusmitteilung(root: Any, directory: Path) -> Answer:
    code = root.findtext("x:status/code", namespaces=NS)
    frist = root.findtext("x:fristende", namespaces=NS)
    aktenzeichen = root.findtext("x:aktenzeichen", namespaces=NS)
    message_uuid = root.findtext(HEAD_UUID)
    return Answer(
        kind="1705",
        message_uuid=message_uuid,
        answers_uuid=root.findtext("x:ursprungsnachricht/nachrichtenUUID", namespaces=NS),
        status=ANMELDUNG_STATUS.get(code, "other_status"),
        text=codes.name(directory, "Code.Anmeldung.Status", code),
        aktenzeichen=aktenzeichen,
        status_code=code,
        fristende=date.fromisoformat(frist) if frist else None,
        documents=_pdf(
            f"statusmitteilung-{message_uuid}",
            "statusmitteilung",
            root.findtext("x:pdfDokument", namespaces=NS),
        ),
    )


def _ergebnis(root: Any, directory: Path) -> Answer:
    message_uuid = root.findtext(HEAD_UUID)
    common = {
        "kind": "1707",
        "message_uuid": message_uuid,
        "answers_uuid": root.findtext("x:ursprungsnachricht/nachrichtenUUID", namespaces=NS),
        "aktenzeichen": root.findtext("x:aktenzeichen", namespaces=NS),
    }
    refusal = root.find("x:ergebnis/x:ablehnung", NS)
    if refusal is not None:
        code = refusal.findtext("x:status/code", namespaces=NS)
        return Answer(
            **common,
            status="rejected",
            status_code=code,
            text=codes.name(directory, "Code.Anmeldung.Status", code),
            documents=_pdf(
                f"ablehnung-{message_uuid}",
                "rejection",
                refusal.findtext("x:pdfDokument", namespaces=NS),
            ),
        )
    people = root.findall("x:ergebnis/x:anmeldung/x:zuziehendePerson", NS)
    documents = tuple(
        d
        for i, person in enumerate(people, start=1)
        for d in _pdf(
            f"meldebestaetigung-{i}-{message_uuid}",
            "meldebestaetigung",
            person.findtext("x:pdfDokument", namespaces=NS),
        )
    )
    registered = people[0].findtext(
        "x:meldebestaetigung/x:wohnung/x:datumAnmeldungBeiAnmeldebehoerde", namespaces=NS
    )
    return Answer(
        **common,
        status="registered",
        text=(
            f"Die Anmeldung ist durchgeführt ({len(people)} Person(en), angemeldet am "
            f"{registered}). Meldebestätigung beigefügt."
        ),
        documents=documents,
    )


def _meldebescheinigung(root: Any, directory: Path) -> Answer:
    message_uuid = root.findtext(HEAD_UUID)
    common = {
        "kind": "1701",
        "message_uuid": message_uuid,
        "answers_uuid": root.findtext("x:ursprungsnachricht/nachrichtenUUID", namespaces=NS),
    }
    answer = root.find("x:antwortAbrufanfrage", NS)
    refused = answer.findtext("x:grundDerRueckweisung/code", namespaces=NS)
    if refused is not None:
        return Answer(
            **common,
            status="certificate_refused",
            status_code=refused,
            text=codes.name(directory, "Code.Onlinedienste.Nichterstellung.Grund", refused),
        )
    code = answer.findtext("x:auskunft/x:ergebnisstatus/code", namespaces=NS)
    text = codes.name(directory, "Code.Onlinedienste.Abruf.Ergebnisstatus", code)
    certificate = answer.find("x:auskunft/x:meldebescheinigung", NS)
    documents: tuple[Document, ...] = ()
    if certificate is not None:
        pdf = certificate.findtext("x:pdfDokument", namespaces=NS)
        data = certificate.find("x:meldedaten", NS)
        if pdf:
            documents = _pdf(f"meldebescheinigung-{message_uuid}", "meldebescheinigung", pdf)
        elif data is not None:  # structured: kept as the office sent it
            documents = (
                Document(
                    f"meldebescheinigung-{message_uuid}",
                    "meldebescheinigung",
                    "application/xml",
                    etree.tostring(data, encoding="UTF-8"),
                ),
            )
    return Answer(
        **common,
        status="certificate_issued" if documents else "certificate_answered",
        status_code=code,
        text=text,
        documents=documents,
    )


def _rueckweisung(root: Any, directory: Path) -> Answer:
    body = root.find("rueckweisung")
    reasons = []
    for reason in body.findall("rueckweisungsgrund"):
        code = reason.findtext("grund/code")
        words = reason.findtext("grund/name") or codes.name(
            directory, "Code.Fehlercode.XInneres", code
        )
        reasons.append(f"{code}: {words}")
    answers = body.findtext("idNachricht/nachrichtenUUID") or _returned_uuid(
        body.findtext("nachricht")
    )
    return Answer(
        kind="0010",
        message_uuid=root.findtext(HEAD_UUID),
        answers_uuid=answers,
        status="message_rejected",
        status_code=body.findtext("rueckweisungsgrund/grund/code"),
        text="Rückweisung: " + "; ".join(reasons),
    )


def _returned_uuid(encoded: str | None) -> str | None:
    """The nachrichtenUUID of the message a Rückweisung returns (parsed as safely as any)."""
    try:
        returned = parse_xml(_b64(encoded) or b"", max_bytes=20 * 1024 * 1024, what="returned")
    except (XmlRejected, ValueError):
        return None
    return returned.findtext(HEAD_UUID)


_READERS = {
    "onlinedienste.anmeldung.statusmitteilung.1705": _statusmitteilung,
    "onlinedienste.anmeldung.ergebnis.1707": _ergebnis,
    "onlinedienste.meldebescheinigungAntwort.1701": _meldebescheinigung,
    "rueckweisung.asynchron.0010": _rueckweisung,
}


def report(h: Any, record_id: str, answer: Answer, *, key: str | None = None) -> bool:
    """Keep the answer's documents as attachments of the record, then record the office's words
    in its history (and tell the status hooks). With ``key`` at most once: False when this
    answer was applied before. Documents go first and are idempotent by id, so a crash between
    the two leaves nothing half done on the next try."""
    for doc in answer.documents:
        h.attachments.add(
            record_id,
            doc.attachment_id,
            purpose=doc.purpose,
            media_type=doc.media_type,
            data=doc.data,
            source="xmeld",
        )
    detail = answer.text
    if answer.aktenzeichen:
        detail += f" Aktenzeichen {answer.aktenzeichen}."
    if answer.fristende:
        detail += f" Frist bis {answer.fristende.isoformat()}."
    if answer.documents:
        detail += " Dokumente: " + ", ".join(d.attachment_id for d in answer.documents) + "."
    return h.report_status(
        record_id, f"meldebehoerde:{answer.status}", detail, adapter_type="xmeld", key=key
    )


__all__ = [
    "ANMELDUNG_STATUS",
    "FINAL",
    "Answer",
    "AnswerRefused",
    "Document",
    "Statusmitteilung",
    "read_answer",
    "report",
]
