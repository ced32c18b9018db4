"""The Anmeldung: its payload schema and the 1704 Meldeschein built from a record."""

from __future__ import annotations

import base64
import copy

import jsonschema
import pytest
from lxml import etree

from hub_xmeld import messages
from hub_xmeld.anmeldung import PAYLOAD_SCHEMA, meldeschein_1704
from hub_xmeld.schemas import XMELD_NS

NS = {"x": XMELD_NS}


def build(record, parties):
    author, reader = parties
    return meldeschein_1704(record, author, reader, messages.Product())


def payload_errors(payload) -> list[str]:
    validator = jsonschema.Draft202012Validator(PAYLOAD_SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.validator}"
        for e in validator.iter_errors(payload)
    ]


def test_the_example_payload_satisfies_the_schema(anmeldung) -> None:
    jsonschema.Draft202012Validator.check_schema(PAYLOAD_SCHEMA)
    assert payload_errors(anmeldung.payload) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda p: p.pop("landlord"), ": required"),
        (lambda p: p["new_dwelling"].pop("status"), "new_dwelling: required"),
        (
            lambda p: p["new_dwelling"].update(postal_code="4021"),
            "new_dwelling/postal_code: pattern",
        ),
        (lambda p: p["new_dwelling"].update(floor=3), "new_dwelling: unevaluatedProperties"),
        (lambda p: p["person"].update(sex="f"), "person/sex: enum"),
        (lambda p: p["person"].update(nationalities=[]), "person/nationalities: minItems"),
        (lambda p: p["partner"].pop("date_of_birth"), "partner: required"),
        (lambda p: p["previous_dwelling"].pop("ags"), "previous_dwelling: required"),
        (lambda p: p["children"][0].update(marital_status="XX"), "children/0/marital_status: enum"),
        (
            lambda p: p.update(landlord_confirmation_pdf="not base64!"),
            "landlord_confirmation_pdf: pattern",
        ),
    ],
)
def test_payload_schema_names_field_and_rule(anmeldung, change, where) -> None:
    payload = copy.deepcopy(anmeldung.payload)
    change(payload)
    assert where in payload_errors(payload)


def test_1704_from_the_example_is_valid_and_complete(schema, anmeldung, parties) -> None:
    doc = etree.fromstring(messages.validated(build(anmeldung, parties), schema))
    assert etree.QName(doc).localname == "onlinedienste.anmeldung.meldeschein.1704"
    assert doc.findtext(".//nachrichtentyp/code") == "1704"
    assert doc.findtext("nachrichtenkopf.g2g/leser/kennung") == "ags:05111000"
    # identified by the dwelling registered so far
    ident = doc.find("x:identifikation/x:anschrift", NS)
    assert ident.findtext("x:gemeindeschluessel/code", namespaces=NS) == "05315000"
    assert (
        ident.findtext("x:strasseUndHausnummer/x:konkateniert", namespaces=NS) == "Heidestraße 17"
    )
    person = doc.find("x:berechtigtePerson", NS)
    data = person.find("x:bestaetigteMeldedaten/x:personendaten", NS)
    assert (
        data.findtext("x:name/x:familienname.unstrukturiert/x:nachname/name", namespaces=NS)
        == "Mustermann"
    )
    assert data.findtext("x:name/x:geburtsname.unstrukturiert/name", namespaces=NS) == "Gabler"
    assert data.findtext("x:geburtsangaben/x:geburtsort", namespaces=NS) == "Köln"
    assert data.findtext("x:geschlecht/code", namespaces=NS) == "w"
    assert data.findtext("x:familienstand/x:familienstand/code", namespaces=NS) == "VH"
    assert (
        data.findtext("x:wohnung/x:anschrift/x:anschrift.inland/strasse", namespaces=NS)
        == "Heidestraße"
    )
    assert person.findtext("x:statusDerNeuenWohnung/code", namespaces=NS) == "0"
    others = doc.find("x:weitereMitzuziehendePerson", NS)
    assert others.findtext("x:partner/x:partnerschaftstyp/code", namespaces=NS) == "EG"
    child = others.find("x:kind", NS)
    assert child.findtext(".//x:vornamen/x:vornamen/name", namespaces=NS) == "Jörg Łukasz"
    assert [c.text for c in child.iterfind(".//x:staatsangehoerigkeit/code", NS)] == ["000", "152"]
    extra = doc.find("x:ergaenzendeMeldedaten", NS)
    lines = extra.findall("x:wohnungsgeber/x:wohnungsgeberNameAnschrift/x:zeile", NS)
    assert [
        (z.findtext("x:position", namespaces=NS), z.findtext("x:inhalt", namespaces=NS))
        for z in lines
    ] == [("1", "Wohnungsbau Rhein GmbH"), ("2", "Königsallee 1"), ("3", "40212 Düsseldorf")]
    new = extra.find("x:wohnung/x:anschrift", NS)
    assert (new.findtext("hausnummer"), new.findtext("hausnummerBuchstabeZusatzziffer")) == (
        "6",
        "a",
    )
    assert new.findtext("gemeindeschluessel/code") == "05111000"
    assert extra.findtext("x:wohnung/x:datumDesBeziehens", namespaces=NS) == "2026-11-01"
    assert extra.findtext("x:datumDesAuszugs", namespaces=NS) == "2026-10-31"
    pdf = base64.b64decode(extra.findtext("x:wohnungsgeberbestaetigung", namespaces=NS))
    assert pdf.startswith(b"%PDF-")


def test_moving_in_from_abroad_alone(schema, anmeldung, parties) -> None:
    p = anmeldung.payload
    for key in (
        "previous_dwelling",
        "partner",
        "children",
        "moving_out_date",
        "landlord_confirmation_pdf",
    ):
        p.pop(key)
    p["moved_from_abroad"] = "2026-10-20"
    p["person"]["birth_country"] = "129"
    doc = etree.fromstring(messages.validated(build(anmeldung, parties), schema))
    assert doc.find("x:weitereMitzuziehendePerson", NS) is None
    data = doc.find("x:berechtigtePerson/x:bestaetigteMeldedaten/x:personendaten", NS)
    assert data.findtext("x:zuzugBund", namespaces=NS) == "2026-10-20"
    assert (
        data.findtext("x:wohnung/x:anschrift/x:anschrift.inland/wohnort", namespaces=NS)
        == "Düsseldorf"
    )
    assert doc.findtext("x:identifikation/x:anschrift/x:postleitzahl", namespaces=NS) == "40213"


def test_applicant_data_outside_the_standard_is_refused_with_the_place(
    schema, anmeldung, parties
) -> None:
    anmeldung.payload["children"][0]["given_names"] = "Jörg \u2603"  # a snowman: not DIN 91379
    with pytest.raises(messages.MessageInvalid) as info:
        messages.validated(build(anmeldung, parties), schema)
    assert "kind" in str(info.value) and "vornamen" in str(info.value)
