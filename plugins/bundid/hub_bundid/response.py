"""Validating a BundID SAML Response at the ACS. Every failure is a :class:`SamlError` with a
reason code; nothing is stored unless every check passed (the caller commits afterwards)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub_bundid import xmldsig, xmlenc
from hub_bundid.constants import (
    AKDB,
    ATTRIBUTE_TRUST,
    BEARER,
    LEVEL_OF_RANK,
    MODERN_SIGNATURE_ALGORITHMS,
    NS,
    OIDS,
    SAML,
    SAMLP,
    SIGNATURE_ALGORITHMS,
    STATUS_AUTHN_FAILED,
    STATUS_NO_AUTHN_CONTEXT,
    STATUS_REQUEST_DENIED,
    STATUS_SUCCESS,
    STORK_RANK,
)
from hub_bundid.errors import SamlError
from hub_bundid.keys import KeyPair
from hub_bundid.messages import IdpMetadata
from hub_bundid.xmlutil import parse, text_of


@dataclass(frozen=True)
class PendingRequest:
    request_id: str
    min_rank: int
    expires_at: datetime


@dataclass(frozen=True)
class Attribute:
    name: str
    value: str
    trust_rank: int | None  # from akdb:TrustLevel; None when absent or unknown


@dataclass(frozen=True)
class LoginResult:
    request_id: str
    assertion_id: str
    assertion_expires: datetime
    name_id: str
    rank: int
    level: str
    method: str | None
    bpk2: str | None
    attributes: dict[str, Attribute]
    signature_algorithm: str


def _time(value: str | None, what: str) -> datetime:
    if not value:
        raise SamlError("time_missing", f"{what} is missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SamlError("time_invalid", f"{what} is not a timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def decode(raw: str, max_bytes: int) -> bytes:
    # Base64 inflates by 4/3: refuse oversized input before decoding and before parsing.
    if len(raw) > max_bytes * 4 // 3 + 4:
        raise SamlError("too_large", f"the response is larger than {max_bytes} bytes")
    try:
        return base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SamlError("malformed_response", "SAMLResponse is not base64") from exc


def validate_response(
    raw_b64: str,
    *,
    sp_entity_id: str,
    acs_url: str,
    encryption: KeyPair,
    idp: IdpMetadata,
    lookup_request: Callable[[str], PendingRequest | None],
    assertion_seen: Callable[[str], bool],
    now: datetime | None = None,
    skew: timedelta = timedelta(seconds=60),
    max_bytes: int = 256 * 1024,
    require_encryption: bool = True,
    legacy_algorithms: bool = False,
) -> LoginResult:
    """Check a BundID response from the ground up; raises :class:`SamlError`.

    Without ``legacy_algorithms`` only RSA-PSS signatures and AES-GCM/RSA-OAEP encryption are
    accepted, as BundID sends them since 2024."""
    signatures = SIGNATURE_ALGORITHMS if legacy_algorithms else MODERN_SIGNATURE_ALGORITHMS
    now = now or datetime.now(UTC)
    root = parse(decode(raw_b64, max_bytes), max_bytes=max_bytes, what="SAML response")
    if root.tag != f"{{{SAMLP}}}Response" or root.get("Version") != "2.0":
        raise SamlError("malformed_response", "not a SAML 2.0 Response")
    destination = root.get("Destination")
    if destination is not None and destination != acs_url:
        raise SamlError("destination_mismatch", "the response is addressed to another endpoint")
    issuer = root.find("saml2:Issuer", NS)
    if issuer is not None and text_of(issuer).strip() != idp.entity_id:
        raise SamlError("issuer_mismatch", "the response comes from another issuer")
    request_id = root.get("InResponseTo") or ""
    pending = lookup_request(request_id)
    if pending is None:
        raise SamlError(
            "unknown_request", "the response answers no login request of ours, or one already used"
        )
    if pending.expires_at < now:
        raise SamlError("request_expired", "the login request has expired")

    response_signed = xmldsig.own_signature(root) is not None
    algorithm = (
        xmldsig.verify(root, idp.signing_certs, algorithms=signatures) if response_signed else ""
    )
    _check_status(root)

    encrypted = root.findall("saml2:EncryptedAssertion", NS)
    plain = root.findall("saml2:Assertion", NS)
    if len(encrypted) + len(plain) != 1:
        raise SamlError("assertion_count", "expected exactly one assertion")
    if encrypted:
        assertion = xmlenc.decrypt_assertion(encrypted[0], encryption, legacy=legacy_algorithms)
    elif require_encryption:
        raise SamlError("assertion_not_encrypted", "the assertion must be encrypted")
    else:
        assertion = plain[0]
    if xmldsig.own_signature(assertion) is not None:
        algorithm = xmldsig.verify(assertion, idp.signing_certs, algorithms=signatures) or algorithm
    elif not response_signed:
        raise SamlError("signature_missing", "neither the response nor the assertion is signed")

    if text_of(assertion.find("saml2:Issuer", NS)).strip() != idp.entity_id:
        raise SamlError("issuer_mismatch", "the assertion comes from another issuer")
    assertion_id = assertion.get("ID") or ""
    if not assertion_id:
        raise SamlError("malformed_response", "the assertion has no ID")

    subject = assertion.find("saml2:Subject", NS)
    name_id = text_of(subject.find("saml2:NameID", NS) if subject is not None else None).strip()
    confirmations = [
        c
        for c in (subject.findall("saml2:SubjectConfirmation", NS) if subject is not None else [])
        if c.get("Method") == BEARER
    ]
    if not confirmations:
        raise SamlError("subject_confirmation", "no bearer subject confirmation")
    data = confirmations[0].find("saml2:SubjectConfirmationData", NS)
    if data is None:
        raise SamlError("subject_confirmation", "no subject confirmation data")
    if data.get("Recipient") != acs_url:
        raise SamlError("recipient_mismatch", "the assertion is meant for another endpoint")
    if data.get("InResponseTo") != request_id:
        raise SamlError("in_response_to_mismatch", "the assertion answers another request")
    if _time(data.get("NotOnOrAfter"), "SubjectConfirmationData NotOnOrAfter") <= now - skew:
        raise SamlError("expired", "the assertion has expired")

    conditions = assertion.find("saml2:Conditions", NS)
    if conditions is None:
        raise SamlError("conditions_missing", "the assertion has no conditions")
    if _time(conditions.get("NotBefore"), "NotBefore") > now + skew:
        raise SamlError("not_yet_valid", "the assertion is not valid yet")
    expires = _time(conditions.get("NotOnOrAfter"), "NotOnOrAfter")
    if expires <= now - skew:
        raise SamlError("expired", "the assertion has expired")
    audiences = [
        text_of(a).strip()
        for a in conditions.iterfind("saml2:AudienceRestriction/saml2:Audience", NS)
    ]
    if sp_entity_id not in audiences:
        raise SamlError("audience_mismatch", "the assertion is meant for another service provider")

    ref = assertion.find("saml2:AuthnStatement/saml2:AuthnContext/saml2:AuthnContextClassRef", NS)
    rank = STORK_RANK.get(text_of(ref).strip()) if ref is not None else None
    if rank is None:
        raise SamlError("authn_context", "the assertion names no known trust level")
    if rank < pending.min_rank:
        raise SamlError(
            "trust_level_too_low", "the login's trust level is below what was requested"
        )
    if assertion_seen(assertion_id):
        raise SamlError("replayed", "this assertion was used before")

    attributes = _attributes(assertion)
    method = attributes.get("AssertionProvedBy")
    bpk2 = attributes.get("bPK2")
    return LoginResult(
        request_id,
        assertion_id,
        expires + skew,
        name_id,
        rank,
        LEVEL_OF_RANK[rank],
        method.value if method else None,
        bpk2.value if bpk2 else None,
        attributes,
        algorithm,
    )


def _check_status(root: Any) -> None:
    top = root.find("samlp:Status/samlp:StatusCode", NS)
    if top is None:
        raise SamlError("malformed_response", "the response has no status")
    if top.get("Value") == STATUS_SUCCESS:
        return
    second = top.find("samlp:StatusCode", NS)
    code = second.get("Value") if second is not None else top.get("Value")
    message = text_of(root.find("samlp:Status/samlp:StatusMessage", NS)).strip() or None
    detail_el = root.find(f"samlp:Status/samlp:StatusDetail/{{{AKDB}}}StatusDetail", NS)
    detail = None
    if detail_el is not None:
        try:
            detail = json.loads(text_of(detail_el))
        except ValueError:
            detail = None
    errors = [e.get("code") for e in (detail or {}).get("errors", []) if isinstance(e, dict)]
    if code == STATUS_AUTHN_FAILED:
        raise SamlError("user_cancelled", "the login was cancelled", detail=message)
    if code == STATUS_NO_AUTHN_CONTEXT:
        raise SamlError("no_authn_context", "the trust level could not be reached", detail=message)
    if "IDP_REQUIRED_ATTRIBUTES_MISSING" in errors:
        raise SamlError(
            "required_attributes_missing",
            "BundID could not provide data this service requires",
            detail=detail,
        )
    if code == STATUS_REQUEST_DENIED:
        raise SamlError(
            "request_denied",
            f"BundID refused the request ({message or 'no reason'})",
            detail=detail or message,
        )
    raise SamlError("idp_error", f"BundID answered {code}", detail=message)


def _attributes(assertion: Any) -> dict[str, Attribute]:
    found: dict[str, Attribute] = {}
    for attr in assertion.iterfind("saml2:AttributeStatement/saml2:Attribute", NS):
        oid = "".join((attr.get("Name") or "").split())  # tolerate stray whitespace in OIDs
        name = OIDS.get(oid)
        if name is None:
            continue
        values = attr.findall("saml2:AttributeValue", NS)
        if not values:
            continue
        trust = ATTRIBUTE_TRUST.get((attr.get(f"{{{AKDB}}}TrustLevel") or "").strip().lower())
        found[name] = Attribute(name, text_of(values[0]), trust)  # values exactly as delivered
    return found


SAML_NS = SAML  # re-exported for tests building vectors
