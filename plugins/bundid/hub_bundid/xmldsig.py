"""Enveloped XML signatures with python-xmlsec (libxmlsec1 1.3: RSASSA-PSS and PKCS#1 v1.5).

Verification trusts one element only: the element whose *own* enveloped signature (a direct
child) references it by its unique ID. The caller then reads exactly that element object, so a
signed element moved elsewhere in the document (signature wrapping) never lends its signature to
an unsigned one.
"""

from __future__ import annotations

import base64
from typing import Any

import xmlsec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from hub_bundid.constants import (
    C14N_EXC,
    DS,
    ENVELOPED,
    SHA256,
    SIG_RSA_SHA256,
    SIGNATURE_ALGORITHMS,
)
from hub_bundid.errors import SamlError
from hub_bundid.keys import KeyPair


def _ds(tag: str, parent: Any = None, **attrs: str) -> Any:
    if parent is None:
        return etree.Element(f"{{{DS}}}{tag}", nsmap={"ds": DS}, **attrs)
    return etree.SubElement(parent, f"{{{DS}}}{tag}", **attrs)


def sign(
    element: Any, pair: KeyPair, algorithm: str = SIG_RSA_SHA256, with_cert: bool = True
) -> Any:
    """Sign ``element`` (which has an ``ID``) with an enveloped signature after its Issuer."""
    if algorithm not in SIGNATURE_ALGORITHMS:
        raise ValueError(f"unsupported signature algorithm {algorithm}")
    ref_id = element.get("ID")
    signature = _ds("Signature")
    signed_info = _ds("SignedInfo", signature)
    _ds("CanonicalizationMethod", signed_info, Algorithm=C14N_EXC)
    _ds("SignatureMethod", signed_info, Algorithm=algorithm)
    reference = _ds("Reference", signed_info, URI=f"#{ref_id}")
    transforms = _ds("Transforms", reference)
    _ds("Transform", transforms, Algorithm=ENVELOPED)
    _ds("Transform", transforms, Algorithm=C14N_EXC)
    _ds("DigestMethod", reference, Algorithm=SHA256)
    _ds("DigestValue", reference)
    _ds("SignatureValue", signature)
    if with_cert:
        x509data = _ds("X509Data", _ds("KeyInfo", signature))
        _ds("X509Certificate", x509data).text = pair.cert_b64
    issuer = next((c for c in element if etree.QName(c).localname == "Issuer"), None)
    element.insert(element.index(issuer) + 1 if issuer is not None else 0, signature)
    xmlsec.tree.add_ids(element.getroottree().getroot(), ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(pair.key_pem, xmlsec.KeyFormat.PEM)
    ctx.sign(signature)
    return signature


def own_signature(element: Any) -> Any | None:
    found = [c for c in element if c.tag == f"{{{DS}}}Signature"]
    if len(found) > 1:
        raise SamlError("signature_invalid", "more than one signature on one element")
    return found[0] if found else None


def verify(
    element: Any, certs: list[bytes], *, algorithms: frozenset[str] = SIGNATURE_ALGORITHMS
) -> str:
    """Verify ``element``'s own signature against the pinned certificates; returns the
    signature algorithm. Raises :class:`SamlError` (``signature_invalid``) otherwise."""
    signature = own_signature(element)
    if signature is None:
        raise SamlError("signature_missing", "the element is not signed")
    ref_id = element.get("ID")
    if not ref_id:
        raise SamlError("signature_invalid", "the signed element has no ID")
    root = element.getroottree().getroot()
    if len(root.xpath("//*[@ID=$id]", id=ref_id)) != 1:
        raise SamlError("signature_invalid", "the signed element's ID is not unique")
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(references) != 1 or references[0].get("URI") != f"#{ref_id}":
        raise SamlError("signature_invalid", "the signature does not cover this element")
    transforms = [t.get("Algorithm") for t in references[0].iterfind(f".//{{{DS}}}Transform")]
    if not set(transforms) <= {ENVELOPED, C14N_EXC}:
        raise SamlError("signature_invalid", "unexpected signature transforms")
    method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    algorithm = method.get("Algorithm") if method is not None else None
    if algorithm not in algorithms:
        raise SamlError("signature_algorithm", f"signature algorithm {algorithm} is not accepted")
    xmlsec.tree.add_ids(root, ["ID"])
    for cert in certs:
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(cert, xmlsec.KeyFormat.CERT_PEM)
        try:
            ctx.verify(signature)
            return algorithm
        except xmlsec.Error:
            continue
    raise SamlError("signature_invalid", "the signature does not verify with the IdP's key")


# --- HTTP-Redirect binding: the signature is over the query string -----------------------------


def redirect_signature(query: str, pair: KeyPair) -> str:
    signed = pair.private_key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signed).decode()


def verify_redirect_signature(query: str, signature_b64: str, cert_pem: bytes) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    public = x509.load_pem_x509_certificate(cert_pem).public_key()
    try:
        public.verify(
            base64.b64decode(signature_b64),
            query.encode(),  # type: ignore[call-arg]
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        return True
    except (InvalidSignature, ValueError):
        return False


def public_pem(pair: KeyPair) -> bytes:
    return pair.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
