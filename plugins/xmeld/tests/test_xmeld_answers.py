"""The 1700 request and the office's 1705 answer: built, validated, read, reported."""

from __future__ import annotations

import pytest
from lxml import etree

from hub_xmeld import answers, messages
from hub_xmeld.schemas import XMELD_NS

NS = {"xmeld": XMELD_NS}


def test_1700_minimum_and_extended(schema, record, parties) -> None:
    author, reader = parties
    minimum = messages.meldebescheinigung_1700(record, author, reader, messages.Product())
    doc = etree.fromstring(messages.validated(minimum, schema))
    assert doc.findtext(".//xmeld:meldebescheinigungMindestumfang", namespaces=NS) == "true"
    assert doc.findtext(".//xmeld:zustellvariante/code", namespaces=NS) == "03"
    post = messages.meldebescheinigung_1700(
        record, author, reader, messages.Product(), zustellung="post"
    )
    assert (
        etree.fromstring(messages.validated(post, schema)).findtext(
            ".//xmeld:zustellvariante/code", namespaces=NS
        )
        == "01"
    )


def test_1705_is_read(schema, record, parties, statusmitteilung) -> None:
    answer = answers.read_answer(
        statusmitteilung(record, parties, "5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b"), schema
    )
    assert answer.answers_uuid == "5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b"
    assert (answer.status_code, answer.status) == ("01", "continues")
    assert answer.aktenzeichen == "33-A-2026-0815"
    assert answer.fristende.isoformat() == "2026-12-01" and answer.pdf.startswith(b"%PDF")


@pytest.mark.parametrize(("code", "status"), [("02", "not_electronic"), ("03", "code_invalid")])
def test_1705_codes(schema, record, parties, code, status, statusmitteilung) -> None:
    answer = answers.read_answer(
        statusmitteilung(
            record, parties, "5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b", code=code, pdf=None
        ),
        schema,
    )
    assert answer.status == status and answer.pdf is None


def test_invalid_answers_are_refused(schema, record, parties, statusmitteilung) -> None:
    with pytest.raises(answers.AnswerRefused) as info:
        answers.read_answer(statusmitteilung(record, parties, "not-a-uuid"), schema)
    assert "nachrichtenUUID" in str(info.value)
    with pytest.raises(answers.AnswerRefused, match="dtd_forbidden"):
        answers.read_answer(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', schema)


def test_report_writes_the_offices_words_into_the_history(
    schema, record, parties, delivery, statusmitteilung
) -> None:
    ctx = delivery(1)
    answer = answers.read_answer(
        statusmitteilung(record, parties, "5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b"), schema
    )
    assert answers.report(ctx.hub, ctx.record_id, answer) is True
    last = ctx.hub.store.get_record(ctx.record_id).history[-1]
    assert last.status == "meldebehoerde:continues" and last.adapter == "xmeld"
    assert "Aktenzeichen 33-A-2026-0815" in last.detail and "Frist bis 2026-12-01" in last.detail


def _answer(parties, root_name: str, kind: str, origin_uuid: str):
    from hub_xmeld.sim.meldebehoerde import PRODUCT

    author, reader = parties
    office = messages.Authority(reader.kennung, reader.name, reader.address, {"email": "a@b.de"})
    root = messages.message(root_name, kind, office, author, PRODUCT)
    return root, lambda: _origin(root, origin_uuid)


def _origin(root, origin_uuid: str) -> None:
    origin = etree.SubElement(root, f"{{{XMELD_NS}}}ursprungsnachricht")
    etree.SubElement(origin, "nachrichtenUUID").text = origin_uuid
    etree.SubElement(etree.SubElement(origin, "nachrichtentyp"), "code").text = "1704"
    etree.SubElement(origin, "erstellungszeitpunkt").text = messages.timestamp()


ORIGIN = "5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b"


def test_1707_refusal_and_1701_refusal_carry_the_code_lists_words(schema, record, parties) -> None:
    root, close = _answer(parties, "onlinedienste.anmeldung.ergebnis.1707", "1707", ORIGIN)
    messages.identifikation(root, record)
    etree.SubElement(root, f"{{{XMELD_NS}}}aktenzeichen").text = "33-A-2026-0001"
    refusal = etree.SubElement(
        etree.SubElement(root, f"{{{XMELD_NS}}}ergebnis"), f"{{{XMELD_NS}}}ablehnung"
    )
    etree.SubElement(etree.SubElement(refusal, f"{{{XMELD_NS}}}status"), "code").text = "02"
    close()
    answer = answers.read_answer(messages.validated(root, schema), schema)
    assert (answer.kind, answer.status, answer.answers_uuid) == ("1707", "rejected", ORIGIN)
    assert answer.text == answers_text(schema, "Code.Anmeldung.Status", "02")
    assert "nicht fortgeführt" in answer.text and answer.documents == ()

    root, close = _answer(parties, "onlinedienste.meldebescheinigungAntwort.1701", "1701", ORIGIN)
    reply = etree.SubElement(root, f"{{{XMELD_NS}}}antwortAbrufanfrage")
    reason = etree.SubElement(reply, f"{{{XMELD_NS}}}grundDerRueckweisung")
    etree.SubElement(reason, "code").text = "01"
    close()
    answer = answers.read_answer(messages.validated(root, schema), schema)
    assert (answer.kind, answer.status, answer.status_code) == ("1701", "certificate_refused", "01")
    assert answer.text and not answer.text.startswith("code ")


def answers_text(schema, code_type: str, code: str) -> str:
    from hub_xmeld import codes

    return codes.name(schema.directory, code_type, code)


def test_a_0010_without_id_finds_the_message_it_returns(schema, record, parties) -> None:
    from hub_xmeld.sim.meldebehoerde import MeldebehoerdeSimulator

    author, reader = parties
    original = messages.validated(
        messages.bestaetigungscode_1706(record, "A1", author, reader, messages.Product()), schema
    )
    sent_uuid = etree.fromstring(original).findtext(".//nachrichtenUUID")
    built = []

    class Office(MeldebehoerdeSimulator):
        def _send(self, root, portal, kind):
            root.find("rueckweisung").remove(root.find("rueckweisung/idNachricht"))
            built.append(messages.validated(root, self.schema))

    office = messages.Authority(reader.kennung, reader.name, reader.address, {"email": "a@b.de"})
    Office(None, schema, office)._rueckweisung(etree.fromstring(original), original, author, "S010")
    answer = answers.read_answer(built[0], schema)
    assert (answer.kind, answer.answers_uuid, answer.status) == (
        "0010",
        sent_uuid,
        "message_rejected",
    )
    assert (
        answer.text == "Rückweisung: S010: Nicht spezifikationskonform: Ungültige Schlüsseltabelle."
    )


def test_every_status_an_answer_can_give_is_registered() -> None:
    """The reader's statuses are spelled out in its source: each one must be in the
    registered ``meldebehoerde`` namespace, or reporting it would fail at run time."""
    import ast
    import inspect

    from hub_xmeld import answers

    tree = ast.parse(inspect.getsource(answers))
    given = {
        part.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "status"
        for part in ast.walk(kw.value)  # "a" if documents else "b": both
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    }
    given |= set(answers.ANMELDUNG_STATUS.values()) | {"other_status"}
    assert len(given) >= 10
    assert given == set(answers.STATUSES)
