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
