"""The 1700 request and the office's 1705 answer: built, validated, read, reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

import hub
from hub.core.config import config_from_dict
from hub.core.hub import Hub
from hub.core.plugins import PluginManager
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
    schema, record, parties, tmp_path: Path, statusmitteilung
) -> None:
    h = Hub(
        config_from_dict(
            {
                "store": {"url": f"sqlite:///{tmp_path / 'hub.db'}"},
                "routes": [{"adapters": ["file"]}],
                "adapters": {"file": {"directory": str(tmp_path / "out")}},
            }
        ),
        PluginManager(disabled={"ozg_catalog", "bundid"}),
    )
    h.start()
    sub = hub.Submission.model_validate(record.submission().model_dump())
    rid = h.intake.submit(sub, client="portal").record_id
    answer = answers.read_answer(
        statusmitteilung(record, parties, "5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b"), schema
    )
    answers.report(h, rid, answer)
    last = h.store.get_record(rid).history[-1]
    h.close()
    assert last.status == "meldebehoerde:continues" and last.adapter == "xmeld"
    assert "Aktenzeichen 33-A-2026-0815" in last.detail and "Frist bis 2026-12-01" in last.detail
