"""The simulator's side of a login: personas and SAML Responses as BundID sends them.

Success: ``samlp:Response`` signed (RSASSA-PSS by default) over an ``EncryptedAssertion``
(AES-256-GCM + RSA-OAEP/MGF1-SHA256 by default), the inner Assertion signed as well; only the
requested attributes, each with FriendlyName, URN Name, NameFormat uri, ``akdb:TrustLevel`` and
``xsi:type="xsd:string"``. The legacy switch gives rsa-sha256, AES-256-CBC and rsa-oaep-mgf1p.
The persona data is the BSI test identity of the official example (Erika Mustermann).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from hub_bundid import xmldsig, xmlenc
from hub_bundid.constants import (
    AKDB,
    ATTRNAME_URI,
    BEARER,
    ENC_AES256_CBC,
    ENC_AES256_GCM,
    KEY_RSA_OAEP,
    KEY_RSA_OAEP_MGF1P,
    NAMEID_TRANSIENT,
    OID_OF,
    SAML,
    SAMLP,
    SIG_RSA_PSS_SHA256,
    SIG_RSA_SHA256,
    STATUS_AUTHN_FAILED,
    STATUS_NO_AUTHN_CONTEXT,
    STATUS_REQUEST_DENIED,
    STATUS_REQUESTER,
    STATUS_SUCCESS,
    STORK,
    XSD,
    XSI,
)
from hub_bundid.keys import KeyPair
from hub_bundid.messages import instant, new_id

ERIKA = {
    "givenName": "ERIKA",
    "surname": "MUSTERMANN",
    "birthName": "GABLER",
    "postalAddress": "HEIDESTRAẞE 17",
    "postalCode": "51147",
    "localityName": "KÖLN",
    "country": "DE",
    "birthdate": "1964-08-12",
    "placeOfBirth": "BERLIN",
    "gender": "0",
    "nationality": "D",
    "documentType": "ID",
    "mail": "erika.mustermann@example.org",
    "bPK2": "k2jBT0cykDVqiKWia1VMzqmntTu-EwGskIYlcCIGt_8",
    "legacyPostkorbHandle": "b980f78d-f5e0-45d9-8971-cc0e27f0beaf",
}
IDENTITY = (
    "givenName",
    "surname",
    "birthName",
    "postalAddress",
    "postalCode",
    "localityName",
    "country",
    "birthdate",
    "placeOfBirth",
    "nationality",
    "documentType",
)


@dataclass(frozen=True)
class Persona:
    key: str
    label: str
    rank: int
    method: str
    values: dict[str, str]
    trust: dict[str, str | None] = field(default_factory=dict)  # attribute → akdb:TrustLevel
    error: str | None = None  # cancel | required_missing | no_authn_context


def _persona(
    key: str,
    label: str,
    rank: int,
    method: str,
    identity_trust: str | None,
    drop: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
    mfa: str = "true",
) -> Persona:
    values = {k: v for k, v in ERIKA.items() if k not in drop} | (extra or {})
    values |= {
        "AssertionProvedBy": method,
        "EID-CITIZEN-QAA-LEVEL": STORK[rank],
        "mfa": mfa,
        "Version": "2020.2.1",
    }
    trust: dict[str, str | None] = {k: identity_trust for k in IDENTITY}
    trust |= {
        "bPK2": "NORMAL",
        "legacyPostkorbHandle": "NORMAL",
        "mail": "NORMAL",
        "EID-CITIZEN-QAA-LEVEL": "NORMAL",
        "gender": "UNTERGEORDNET",
    }
    return Persona(key, label, rank, method, values, trust)


PERSONAS: dict[str, Persona] = {
    p.key: p
    for p in (
        _persona("eid", "Erika Mustermann — Online-Ausweis (Level 4)", 4, "eID", "HOCH"),
        _persona(
            "elster", "Erika Mustermann — ELSTER-Zertifikat (Level 3)", 3, "Elster", "SUBSTANTIELL"
        ),
        _persona(
            "benutzername",
            "Erika Mustermann — Benutzername/Passwort (Level 1)",
            1,
            "Benutzername",
            "UNTERGEORDNET",
            drop=("birthName", "placeOfBirth", "documentType"),
            mfa="false",
        ),
        _persona(
            "eidas",
            "Erika Mustermann — eIDAS, österreichische eID (Level 4)",
            4,
            "eIDAS",
            "HOCH",
            drop=(
                "birthName",
                "placeOfBirth",
                "postalAddress",
                "postalCode",
                "localityName",
                "documentType",
                "legacyPostkorbHandle",
            ),
            extra={"eIDAS-Issuing-Country": "AT", "nationality": "AUT", "country": "AT"},
        ),
        _persona(
            "temporary",
            "Temporärer Zugang ohne Konto (Level 1)",
            1,
            "Benutzername",
            None,
            drop=("bPK2", "legacyPostkorbHandle", "birthName", "placeOfBirth"),
            extra={"pseudonym": "tmp-3f2a9c1d"},
            mfa="false",
        ),
        Persona("cancel", "Abbruch durch die Nutzerin", 0, "", {}, error="cancel"),
        Persona(
            "required_missing",
            "Pflichtattribut nicht verfügbar",
            0,
            "",
            {},
            error="required_missing",
        ),
        Persona(
            "no_authn_context",
            "Vertrauensniveau nicht erreichbar",
            0,
            "",
            {},
            error="no_authn_context",
        ),
    )
}


@dataclass
class Crypto:
    """Algorithms of the simulator's responses; ``legacy()`` is the pre-2024 BundID profile."""

    signature: str = SIG_RSA_PSS_SHA256
    data: str = ENC_AES256_GCM
    key_transport: str = KEY_RSA_OAEP
    sign_response: bool = True
    sign_assertion: bool = True
    encrypt: bool = True

    @classmethod
    def legacy(cls) -> Crypto:
        return cls(SIG_RSA_SHA256, ENC_AES256_CBC, KEY_RSA_OAEP_MGF1P)


@dataclass
class ResponseSpec:
    """Everything a response depends on; tests alter fields to build negative vectors."""

    idp_entity_id: str
    sp_entity_id: str
    acs_url: str
    in_response_to: str
    persona: Persona
    requested: list[str]  # attribute OIDs requested
    client_address: str = "127.0.0.1"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    validity: timedelta = timedelta(minutes=5)
    rank: int | None = None  # override the persona's level
    assertion_id: str = field(default_factory=new_id)
    audience: str | None = None
    recipient: str | None = None
    destination: str | None = None
    issuer: str | None = None
    name_id: str | None = None


def build_assertion(spec: ResponseSpec) -> Any:
    q = etree.QName
    p = spec.persona
    rank = spec.rank or p.rank
    until = instant(spec.now + spec.validity)
    a = etree.Element(
        q(SAML, "Assertion"),
        nsmap={"saml2": SAML, "xsd": XSD, "xsi": XSI},
        ID=spec.assertion_id,
        IssueInstant=instant(spec.now),
        Version="2.0",
    )
    etree.SubElement(a, q(SAML, "Issuer")).text = spec.issuer or spec.idp_entity_id
    subject = etree.SubElement(a, q(SAML, "Subject"))
    etree.SubElement(
        subject,
        q(SAML, "NameID"),
        Format=NAMEID_TRANSIENT,
        NameQualifier=spec.idp_entity_id,
        SPNameQualifier=spec.sp_entity_id,
    ).text = spec.name_id or new_id()
    confirmation = etree.SubElement(subject, q(SAML, "SubjectConfirmation"), Method=BEARER)
    etree.SubElement(
        confirmation,
        q(SAML, "SubjectConfirmationData"),
        Address=spec.client_address,
        InResponseTo=spec.in_response_to,
        NotOnOrAfter=until,
        Recipient=spec.recipient or spec.acs_url,
    )
    conditions = etree.SubElement(
        a, q(SAML, "Conditions"), NotBefore=instant(spec.now), NotOnOrAfter=until
    )
    etree.SubElement(
        etree.SubElement(conditions, q(SAML, "AudienceRestriction")), q(SAML, "Audience")
    ).text = spec.audience or spec.sp_entity_id
    statement = etree.SubElement(
        a, q(SAML, "AuthnStatement"), AuthnInstant=instant(spec.now), SessionIndex=new_id()
    )
    etree.SubElement(statement, q(SAML, "SubjectLocality"), Address=spec.client_address)
    etree.SubElement(
        etree.SubElement(statement, q(SAML, "AuthnContext")), q(SAML, "AuthnContextClassRef")
    ).text = STORK[rank]
    attributes = etree.SubElement(a, q(SAML, "AttributeStatement"))
    for oid in spec.requested:
        name = next((n for n, o in OID_OF.items() if o == oid), None)
        if name is None or name not in p.values:
            continue  # only what was requested, and only what the persona has
        attr = etree.SubElement(
            attributes, q(SAML, "Attribute"), FriendlyName=name, Name=oid, NameFormat=ATTRNAME_URI
        )
        level = p.trust.get(name)
        if level:
            attr.set(q(AKDB, "TrustLevel"), level)
        value = etree.SubElement(attr, q(SAML, "AttributeValue"))
        value.set(q(XSI, "type"), "xsd:string")
        value.text = p.values[name]
    return a


def build_response(
    spec: ResponseSpec, signing: KeyPair, sp_encryption_cert: bytes, crypto: Crypto | None = None
) -> Any:
    crypto = crypto or Crypto()
    q = etree.QName
    response = _response_shell(spec)
    etree.SubElement(
        etree.SubElement(response, q(SAMLP, "Status")), q(SAMLP, "StatusCode"), Value=STATUS_SUCCESS
    )
    assertion = build_assertion(spec)
    if crypto.sign_assertion:
        holder = etree.ElementTree(assertion)  # signing needs a document
        xmldsig.sign(holder.getroot(), signing, crypto.signature)
    if crypto.encrypt:
        response.append(
            xmlenc.encrypt_assertion(
                assertion, sp_encryption_cert, crypto.data, crypto.key_transport
            )
        )
    else:
        response.append(assertion)
    if crypto.sign_response:
        xmldsig.sign(response, signing, crypto.signature)
    return response


def build_error_response(
    spec: ResponseSpec,
    signing: KeyPair | None,
    code: str,
    *,
    message: str | None = None,
    detail: dict[str, Any] | None = None,
    algorithm: str = SIG_RSA_PSS_SHA256,
) -> Any:
    """Error statuses as BundID sends them (``Requester`` ⊃ a second-level code)."""
    q = etree.QName
    second = {"cancel": STATUS_AUTHN_FAILED, "no_authn_context": STATUS_NO_AUTHN_CONTEXT}.get(
        code, STATUS_REQUEST_DENIED
    )
    response = _response_shell(spec)
    status = etree.SubElement(response, q(SAMLP, "Status"))
    top = etree.SubElement(status, q(SAMLP, "StatusCode"), Value=STATUS_REQUESTER)
    etree.SubElement(top, q(SAMLP, "StatusCode"), Value=second)
    etree.SubElement(status, q(SAMLP, "StatusMessage")).text = message or code
    if detail is not None:
        holder = etree.SubElement(status, q(SAMLP, "StatusDetail"))
        etree.SubElement(holder, q(AKDB, "StatusDetail"), nsmap={"akdb": AKDB}).text = json.dumps(
            detail
        )
    if signing is not None:
        xmldsig.sign(response, signing, algorithm)
    return response


def _response_shell(spec: ResponseSpec) -> Any:
    q = etree.QName
    response = etree.Element(
        q(SAMLP, "Response"),
        nsmap={"saml2p": SAMLP, "saml2": SAML},
        ID=new_id(),
        Version="2.0",
        IssueInstant=instant(spec.now),
        Destination=spec.destination or spec.acs_url,
        InResponseTo=spec.in_response_to,
    )
    etree.SubElement(response, q(SAML, "Issuer")).text = spec.issuer or spec.idp_entity_id
    return response
