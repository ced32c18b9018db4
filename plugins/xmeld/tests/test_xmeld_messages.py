"""Messages built from hub records, validated against the official schema."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from lxml import etree

from hub_xmeld import messages
from hub_xmeld.schemas import XMELD_NS

NS = {"xmeld": XMELD_NS}


def build(record, parties, code="A7K-29Q"):
    author, reader = parties
    return messages.bestaetigungscode_1706(record, code, author, reader, messages.Product())


def test_1706_from_a_record_is_valid(schema, record, parties) -> None:
    root = build(record, parties)
    data = messages.validated(root, schema)
    doc = etree.fromstring(data)
    head = doc.find("nachrichtenkopf.g2g/identifikation.nachricht")
    assert uuid.UUID(head.findtext("nachrichtenUUID")).version == 4
    assert head.findtext("nachrichtentyp/code") == "1706"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", head.findtext("erstellungszeitpunkt")
    )
    assert doc.findtext("nachrichtenkopf.g2g/leser/kennung") == "ags:05111000"
    assert doc.get("produkt") == "hub" and doc.get("version") == "25.11a"
    ident = doc.find("xmeld:identifikation", NS)
    assert ident.findtext("xmeld:familienname.unstrukturiert/name", namespaces=NS) == "Mustermann"
    assert (
        ident.findtext(
            "xmeld:anschrift/xmeld:strasseUndHausnummer/xmeld:konkateniert", namespaces=NS
        )
        == "Heidestraße 17"
    )
    assert doc.findtext("xmeld:code", namespaces=NS) == "A7K-29Q"


def test_each_message_gets_a_fresh_uuid(schema, record, parties) -> None:
    first = build(record, parties).findtext(".//nachrichtenUUID")
    second = build(record, parties).findtext(".//nachrichtenUUID")
    assert first != second


def test_names_go_in_exactly_as_delivered(schema, record, parties) -> None:
    record.applicant.family_name = "ÇELİK-ẞÖNNING"  # DIN 91379 letters, capital ẞ
    data = messages.validated(build(record, parties), schema)
    assert "ÇELİK-ẞÖNNING".encode() in data


def test_characters_outside_din_91379_are_refused_clearly(schema, record, parties) -> None:
    record.applicant.family_name = "Muster\u263amann"  # a smiley is no DIN 91379 character
    with pytest.raises(messages.MessageInvalid) as info:
        messages.validated(build(record, parties), schema)
    assert "familienname.unstrukturiert" in str(info.value)
    assert info.value.issues and info.value.issues[0].line >= 0


def test_unknown_birth_date_and_missing_given_names(schema, record, parties) -> None:
    record.applicant.date_of_birth = None
    record.applicant.given_names = None
    doc = etree.fromstring(messages.validated(build(record, parties), schema))
    assert doc.findtext(".//xmeld:geburtsdatum/unbekannt", namespaces=NS) == "true"
    assert doc.findtext(".//xmeld:vornamen/nichtVorhanden", namespaces=NS) == "true"
    record.applicant.date_of_birth = date(1964, 8, 12)
