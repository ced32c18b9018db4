"""Reading the Meldebehörde's answers and turning them into the record's status history.

So far: ``onlinedienste.anmeldung.statusmitteilung.1705``. An answer is validated against the
official schema before anything in it is believed; it names the message it answers
(``ursprungsnachricht``), which is how the sender finds the record.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree

from hub_xmeld.schemas import XMELD_NS, Issue, XMeldSchema

NS = {"xmeld": XMELD_NS}

# Code list urn:xoev-de:xmeld:codeliste:anmeldung.status (XMeld 25.11a).
ANMELDUNG_STATUS = {
    "01": (
        "continues",
        "Die Anmeldung kann im elektronischen Verfahren fortgeführt werden. "
        "Es wird ein Bestätigungscode versendet.",
    ),
    "02": (
        "not_electronic",
        "Die Anmeldung kann im elektronischen Verfahren nicht fortgeführt werden.",
    ),
    "03": ("code_invalid", "Der Bestätigungscode ist ungültig."),
}


class AnswerRefused(ValueError):
    """An incoming message that is not a valid answer; ``issues`` say why."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues[:5]))


@dataclass(frozen=True)
class Statusmitteilung:
    message_uuid: str
    answers_uuid: str  # the nachrichtenUUID of the message this answers
    aktenzeichen: str
    status_code: str
    status: str
    text: str
    fristende: date | None
    pdf: bytes | None


def read_answer(data: bytes, schema: XMeldSchema) -> Statusmitteilung:
    root, issues = schema.validate_bytes(data, what="answer")
    if issues:
        raise AnswerRefused(issues)
    kind = etree.QName(root).localname
    if kind != "onlinedienste.anmeldung.statusmitteilung.1705":
        raise AnswerRefused(
            [Issue(root.sourceline or 0, f"/{kind}", "this answer type is not handled yet")]
        )
    return _statusmitteilung(root)


def _statusmitteilung(root: Any) -> Statusmitteilung:
    code = root.findtext("xmeld:status/code", namespaces=NS)
    status, text = ANMELDUNG_STATUS[code]
    frist = root.findtext("xmeld:fristende", namespaces=NS)
    pdf = root.findtext("xmeld:pdfDokument", namespaces=NS)
    return Statusmitteilung(
        message_uuid=root.findtext("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID"),
        answers_uuid=root.findtext("xmeld:ursprungsnachricht/nachrichtenUUID", namespaces=NS),
        aktenzeichen=root.findtext("xmeld:aktenzeichen", namespaces=NS),
        status_code=code,
        status=status,
        text=text,
        fristende=date.fromisoformat(frist) if frist else None,
        pdf=base64.b64decode(pdf) if pdf else None,
    )


def report(h: Any, record_id: str, answer: Statusmitteilung, *, key: str | None = None) -> bool:
    """Record the office's words in the record's history (and tell the status hooks); with
    ``key`` at most once (False when this answer was applied before)."""
    detail = f"{answer.text} Aktenzeichen {answer.aktenzeichen}."
    if answer.fristende:
        detail += f" Frist bis {answer.fristende.isoformat()}."
    return h.report_status(
        record_id, f"meldebehoerde:{answer.status}", detail, adapter="xmeld", key=key
    )


__all__ = ["ANMELDUNG_STATUS", "AnswerRefused", "Statusmitteilung", "read_answer", "report"]
