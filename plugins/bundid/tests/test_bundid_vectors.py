"""Negative and robustness vectors for the ACS (research notes §7.6), with real crypto.

Each vector starts from a valid response built by the simulator's response builder, then breaks
one thing. The SP must refuse each with the named reason and store nothing.
"""

from __future__ import annotations

import base64
import copy
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from hub_bundid import keys, messages, xmldsig
from hub_bundid.constants import (
    AKDB,
    ENC_AES128_GCM,
    ENC_AES256_CBC,
    ENC_AES256_GCM,
    KEY_RSA_OAEP,
    KEY_RSA_OAEP_MGF1P,
    NS,
    OID_OF,
    SAML,
    SIG_RSA_PSS_SHA256,
    SIG_RSA_SHA256,
    XENC,
)
from hub_bundid.errors import SamlError
from hub_bundid.response import PendingRequest, validate_response
from hub_bundid.sim.idp import PERSONAS, Crypto, ResponseSpec, build_response

IDP = "https://int.id.bund.de/idp"
SP = "https://hub.test/bundid"
ACS = "https://hub.test/bundid/acs"
REQUEST_ID = "_req0001"
REQUESTED = [
    OID_OF[n]
    for n in (
        "bPK2",
        "givenName",
        "surname",
        "postalAddress",
        "birthdate",
        "AssertionProvedBy",
        "gender",
        "placeOfBirth",
    )
]


@pytest.fixture(scope="module")
def pki():
    return {name: keys.generate(name, bits=2048) for name in ("idp", "sp_enc", "other")}


@pytest.fixture(scope="module")
def idp_meta(pki):
    return messages.read_idp_metadata(
        messages.idp_metadata(IDP, "https://int.id.bund.de", pki["idp"], pki["idp"])
    )


def spec(**changes) -> ResponseSpec:
    base = ResponseSpec(IDP, SP, ACS, REQUEST_ID, PERSONAS["eid"], REQUESTED)
    return replace(base, **changes)


def encode(element) -> str:
    return base64.b64encode(etree.tostring(element)).decode()


def check(raw: str, pki, idp_meta, *, min_rank: int = 1, seen: tuple[str, ...] = (), **kw):
    return validate_response(
        raw,
        sp_entity_id=SP,
        acs_url=ACS,
        encryption=pki["sp_enc"],
        idp=idp_meta,
        lookup_request=lambda rid: (
            PendingRequest(rid, min_rank, datetime.now(UTC) + timedelta(minutes=5))
            if rid == REQUEST_ID
            else None
        ),
        assertion_seen=lambda aid: aid in seen,
        **kw,
    )


def build(pki, crypto: Crypto | None = None, **changes):
    return build_response(spec(**changes), pki["idp"], pki["sp_enc"].cert_pem, crypto)


def refused(code: str, raw: str, pki, idp_meta, **kw) -> SamlError:
    with pytest.raises(SamlError) as info:
        check(raw, pki, idp_meta, **kw)
    assert info.value.code == code, info.value.message
    return info.value


# --- algorithms that must work ---------------------------------------------------------------


@pytest.mark.parametrize("signature", [SIG_RSA_PSS_SHA256, SIG_RSA_SHA256])
@pytest.mark.parametrize("data", [ENC_AES256_GCM, ENC_AES128_GCM, ENC_AES256_CBC])
@pytest.mark.parametrize("key", [KEY_RSA_OAEP, KEY_RSA_OAEP_MGF1P])
def test_accepted_algorithm_combinations(pki, idp_meta, signature, data, key) -> None:
    crypto = Crypto(signature=signature, data=data, key_transport=key)
    modern = signature == SIG_RSA_PSS_SHA256 and data != ENC_AES256_CBC and key == KEY_RSA_OAEP
    raw = encode(build(pki, crypto))
    if not modern:  # refused unless the legacy setting is on
        with pytest.raises(SamlError) as info:
            check(raw, pki, idp_meta)
        assert info.value.code in ("signature_algorithm", "encryption_algorithm")
    result = check(raw, pki, idp_meta, legacy_algorithms=not modern)
    assert result.bpk2 == "k2jBT0cykDVqiKWia1VMzqmntTu-EwGskIYlcCIGt_8"
    assert result.signature_algorithm == signature


@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_either_the_response_or_the_assertion_may_carry_the_signature(pki, idp_meta, signed):
    crypto = Crypto(sign_response=signed == "response", sign_assertion=signed == "assertion")
    assert check(encode(build(pki, crypto)), pki, idp_meta).level == "hoch"


def test_values_stay_exactly_as_delivered_and_levels_parse_both_vocabularies(pki, idp_meta):
    persona = PERSONAS["eid"]
    values = dict(
        persona.values,
        surname="MÜLLER-LÜDENSCHEIDT",
        givenName=unicodedata.normalize("NFC", "JOSÉ"),
        placeOfBirth=unicodedata.normalize("NFD", "MÜNCHEN"),
    )
    trust = dict(
        persona.trust,
        givenName="Hoch",
        surname="substantiell",
        birthdate=None,
        postalAddress="bogus",
    )
    p = replace(persona, values=values, trust=trust)
    result = check(encode(build(pki, persona=p)), pki, idp_meta)
    a = result.attributes
    assert (
        a["surname"].value == "MÜLLER-LÜDENSCHEIDT" and a["postalAddress"].value == "HEIDESTRAẞE 17"
    )
    assert a["givenName"].value == unicodedata.normalize("NFC", "JOSÉ")
    # Not normalised on the way in: an NFD value stays NFD, exactly as delivered.
    assert a["placeOfBirth"].value == unicodedata.normalize("NFD", "MÜNCHEN")
    assert a["placeOfBirth"].value != "MÜNCHEN"
    assert (a["givenName"].trust_rank, a["surname"].trust_rank) == (4, 3)
    assert a["birthdate"].trust_rank is None and a["postalAddress"].trust_rank is None
    assert "gender" in a and a["gender"].trust_rank == 1


def test_whitespace_in_oids_is_tolerated_and_friendly_names_ignored(pki, idp_meta) -> None:
    response = build(pki, Crypto(encrypt=False, sign_response=False))
    for attr in response.iterfind(".//saml2:Attribute", NS):
        if attr.get("FriendlyName") == "surname":
            attr.set("Name", " urn:oid: 2.5.4.4 ")
            attr.set("FriendlyName", "givenName")  # a lying friendly name changes nothing
    assertion = response.find("saml2:Assertion", NS)
    assertion.remove(xmldsig.own_signature(assertion))
    xmldsig.sign(assertion, pki["idp"], SIG_RSA_PSS_SHA256)
    result = check(encode(response), pki, idp_meta, require_encryption=False)
    assert result.attributes["surname"].value == "MUSTERMANN"
    assert result.attributes["givenName"].value == "ERIKA"


def test_relative_authn_context_class_ref_is_understood(pki, idp_meta) -> None:
    assert check(encode(build(pki, rank=3)), pki, idp_meta).level == "substantiell"


# --- vectors that must be refused -------------------------------------------------------------


def test_signed_by_another_key(pki, idp_meta) -> None:
    response = build_response(spec(), pki["other"], pki["sp_enc"].cert_pem)
    refused("signature_invalid", encode(response), pki, idp_meta)


def test_unsigned_response_and_unsigned_assertion(pki, idp_meta) -> None:
    raw = encode(build(pki, Crypto(sign_response=False, sign_assertion=False)))
    refused("signature_missing", raw, pki, idp_meta)


def test_tampered_after_signing(pki, idp_meta) -> None:
    response = build(pki, Crypto(encrypt=False, sign_assertion=False))
    response.find(".//saml2:Audience", NS).text = "https://evil.example"
    refused("signature_invalid", encode(response), pki, idp_meta, require_encryption=False)


def _plain_signed_assertion(pki):
    """A response whose plain assertion alone is signed (no response signature)."""
    return build(pki, Crypto(encrypt=False, sign_response=False))


def test_xsw_evil_assertion_with_the_signed_one_hidden_inside(pki, idp_meta) -> None:
    response = _plain_signed_assertion(pki)
    original = response.find("saml2:Assertion", NS)
    response.remove(original)
    evil = copy.deepcopy(original)
    evil.remove(xmldsig.own_signature(evil))
    evil.set("ID", "_evil")
    for value in evil.iterfind(".//saml2:AttributeValue", NS):
        value.text = "ATTACKER"
    # The signed original hidden inside the evil one (XSW wrapping): its valid signature must
    # not vouch for the element the SP reads.
    evil.insert(1, original)
    response.append(evil)
    refused("signature_missing", encode(response), pki, idp_meta, require_encryption=False)


def test_xsw_signed_assertion_moved_beside_an_unsigned_one(pki, idp_meta) -> None:
    response = _plain_signed_assertion(pki)
    original = response.find("saml2:Assertion", NS)
    evil = copy.deepcopy(original)
    evil.remove(xmldsig.own_signature(evil))
    response.append(evil)  # two assertions: signed original and an unsigned copy
    refused("assertion_count", encode(response), pki, idp_meta, require_encryption=False)


def test_xsw_duplicate_id_pointing_the_reference_elsewhere(pki, idp_meta) -> None:
    response = _plain_signed_assertion(pki)
    original = response.find("saml2:Assertion", NS)
    signed_copy = copy.deepcopy(original)
    extensions = etree.SubElement(response, f"{{{SAML}}}Advice")
    extensions.append(signed_copy)  # the same ID twice in the document
    refused("signature_invalid", encode(response), pki, idp_meta, require_encryption=False)


def test_xsw_signature_copied_onto_an_altered_assertion(pki, idp_meta) -> None:
    response = _plain_signed_assertion(pki)
    assertion = response.find("saml2:Assertion", NS)
    assertion.find(".//saml2:AttributeValue", NS).text = "ATTACKER"
    refused("signature_invalid", encode(response), pki, idp_meta, require_encryption=False)


def test_comment_inside_the_name_id(pki, idp_meta) -> None:
    response = build(pki, Crypto(encrypt=False, sign_response=False, sign_assertion=False))
    name_id = response.find(".//saml2:NameID", NS)
    name_id.text = "_real"
    name_id.append(etree.Comment("x"))
    name_id[-1].tail = ".evil"
    assertion = response.find("saml2:Assertion", NS)
    xmldsig.sign(assertion, pki["idp"], SIG_RSA_PSS_SHA256)
    refused("comment_in_value", encode(response), pki, idp_meta, require_encryption=False)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    ],
)
def test_dtd_and_external_entities(pki, idp_meta, doctype) -> None:
    body = etree.tostring(build(pki)).decode()
    raw = base64.b64encode(f'<?xml version="1.0"?>{doctype}{body}'.encode()).decode()
    refused("dtd_forbidden", raw, pki, idp_meta)


def test_oversized_response_is_refused_before_parsing(pki, idp_meta) -> None:
    raw = base64.b64encode(b"<x>" + b"a" * 300_000 + b"</x>").decode()
    refused("too_large", raw, pki, idp_meta)


def test_replayed_assertion(pki, idp_meta) -> None:
    response = build(pki, assertion_id="_seen")
    refused("replayed", encode(response), pki, idp_meta, seen=("_seen",))


def test_expired_assertion(pki, idp_meta) -> None:
    old = datetime.now(UTC) - timedelta(minutes=20)
    refused("expired", encode(build(pki, now=old)), pki, idp_meta)


def test_not_yet_valid(pki, idp_meta) -> None:
    future = datetime.now(UTC) + timedelta(minutes=10)
    refused("not_yet_valid", encode(build(pki, now=future)), pki, idp_meta)


def test_small_clock_skew_is_tolerated(pki, idp_meta) -> None:
    slightly_late = datetime.now(UTC) - timedelta(minutes=5, seconds=30)
    assert check(encode(build(pki, now=slightly_late)), pki, idp_meta).level == "hoch"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"audience": "https://other-sp.example"}, "audience_mismatch"),
        ({"recipient": "https://hub.test/other"}, "recipient_mismatch"),
        ({"destination": "https://hub.test/other"}, "destination_mismatch"),
        ({"issuer": "https://evil.example/idp"}, "issuer_mismatch"),
        ({"in_response_to": "_never_sent"}, "unknown_request"),
    ],
)
def test_addressing_checks(pki, idp_meta, change, code) -> None:
    refused(code, encode(build(pki, **change)), pki, idp_meta)


def test_trust_level_below_the_requested_minimum(pki, idp_meta) -> None:
    refused("trust_level_too_low", encode(build(pki, rank=1)), pki, idp_meta, min_rank=3)


def test_unencrypted_assertion_refused_by_default(pki, idp_meta) -> None:
    refused("assertion_not_encrypted", encode(build(pki, Crypto(encrypt=False))), pki, idp_meta)


def test_encrypted_for_another_key(pki, idp_meta) -> None:
    response = build_response(spec(), pki["idp"], pki["other"].cert_pem)
    refused("decryption_failed", encode(response), pki, idp_meta)


def test_weak_key_transport_is_refused(pki, idp_meta) -> None:
    response = build(pki, Crypto(sign_response=False))
    method = response.find(f".//{{{XENC}}}EncryptedKey/{{{XENC}}}EncryptionMethod")
    method.set("Algorithm", XENC + "rsa-1_5")
    refused("encryption_algorithm", encode(response), pki, idp_meta)


def test_request_denied_with_status_detail(pki, idp_meta) -> None:
    from hub_bundid.sim.idp import build_error_response

    detail = {
        "version": "1.0",
        "errors": [
            {"code": "IDP_REQUIRED_ATTRIBUTES_MISSING", "message": "Attribute … is required"}
        ],
    }
    response = build_error_response(
        spec(), pki["idp"], "required_missing", message="security-msg", detail=detail
    )
    error = refused("required_attributes_missing", encode(response), pki, idp_meta)
    assert error.detail == detail
    status = response.find(f".//{{{AKDB}}}StatusDetail")
    assert status is not None


def test_not_base64(pki, idp_meta) -> None:
    refused("malformed_response", "%%%not-base64%%%", pki, idp_meta)
