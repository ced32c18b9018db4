"""Intake check: a record for the Meldebehörde is refused at once (422) when its message could
not satisfy the XMeld schema, e.g. a name with characters outside DIN 91379, rather than failing
days later at delivery. The message is built and validated as a dry run; nothing is sent.

For the Anmeldung the dry run is skipped when :mod:`hub_xmeld.value_check` finds every value
within its element's datatype and a record of the same shape was built and validated before.
"""

from __future__ import annotations

import re
from functools import cache

import structlog

import hub
from hub_xmeld import anmeldung, messages, schemas, value_check
from hub_xmeld.schemas import Issue

log = structlog.get_logger("hub.xmeld")

_PLACEHOLDER = messages.PostalAddress("Musterweg", "00000", "Prüfung", "1")
AUTHOR = messages.Authority("psw:00000000", "intake check", _PLACEHOLDER, {"email": "x@x.invalid"})

# Where in the record a part of the message comes from, most specific first.
_FIELDS = [
    (r"weitereMitzuziehendePerson/xmeld:kind(?:\[(\d+)\])?", "payload.children[{}]"),
    (r"weitereMitzuziehendePerson/xmeld:partner", "payload.partner"),
    (r"berechtigtePerson/.*/xmeld:name/", "applicant"),
    (r"berechtigtePerson/.*/xmeld:geburtsangaben/xmeld:geburtsort$", "applicant.place_of_birth"),
    (r"berechtigtePerson/.*/xmeld:wohnung", "payload.previous_dwelling"),
    (r"berechtigtePerson", "payload.person"),
    (r"ergaenzendeMeldedaten/xmeld:wohnungsgeber", "payload.landlord"),
    (r"ergaenzendeMeldedaten/xmeld:wohnung", "payload.new_dwelling"),
    (r"ergaenzendeMeldedaten", "payload"),
    (r"freitext", "payload.notes"),
    (r"identifikation/xmeld:anschrift", "applicant.address"),
    (r"identifikation", "applicant"),
]


def field_of(path: str) -> str:
    """The record field an XPath in the built message comes from."""
    for pattern, field in _FIELDS:
        found = re.search(pattern, path)
        if found:
            index = found.group(1) if found.groups() else None
            return field.format(int(index) - 1 if index else 0)
    return "(record)"


@cache
def _schema() -> schemas.XMeldSchema | None:
    try:
        return schemas.load()
    except schemas.SchemaUnavailable as exc:
        log.warning("xmeld_intake_check_off", reason=str(exc))
        return None


def _problem(issue: Issue) -> hub.FieldProblem:
    return hub.FieldProblem(field_of(issue.path), "xmeld", f"{issue.element}: {issue.brief}")


class WarmUp:
    """A service of ``hub serve``: starts reading the Anmeldung's datatypes for the fast path
    (in a background thread of its own, about a second) so the first Anmeldungen find them."""

    def start(self) -> None:
        schema = _schema()
        if schema is not None:
            value_check.available(schema.directory)

    def stop(self) -> None:
        """Nothing to stop: the reading thread is a daemon and holds no resources."""


def check(record: hub.Record, ctx: hub.EnrichContext) -> None:
    """Enricher for Anmeldung (``99115005104…``) and Meldebescheinigung (``99115003…``)."""
    key = record.service.leika_key
    if not (key.startswith("99115005104") or key.startswith("99115003")):
        return
    schema = _schema()
    if schema is None:  # schemas missing: the adapter reports it when it starts
        return
    if record.applicant is None:
        raise hub.IntakeRejected.one(
            "applicant", "required", "a registration service needs the applicant"
        )
    anmeldung_1704 = key.startswith("99115005104")
    values = value_check.available(schema.directory) if anmeldung_1704 else None
    shape: tuple[object, ...] | None = None
    if values is not None:
        shape, ok = values.shape_and_verdict(record)
        if ok and values.known(shape):
            return
        shape = shape if ok else None  # a partial shape is not remembered
    reader = messages.Authority.meldebehoerde(record.municipality.ars, "Meldebehörde")
    try:
        if anmeldung_1704:
            root = anmeldung.meldeschein_1704(record, AUTHOR, reader, messages.Product())
        else:
            root = messages.meldebescheinigung_1700(record, AUTHOR, reader, messages.Product())
        messages.validated(root, schema)
    except messages.MessageInvalid as exc:
        raise hub.IntakeRejected([_problem(i) for i in exc.issues[:10]]) from None
    except hub.PermanentError as exc:
        raise hub.IntakeRejected.one("applicant", "xmeld", str(exc)) from None
    if values is not None and shape is not None:
        values.remember(shape)  # built and valid: this shape's structure is


__all__ = ["WarmUp", "check", "field_of"]
