"""AuthnRequests (with the akdb V2 extension) and metadata, for both sides of BundID."""

from __future__ import annotations

import base64
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote_plus

from cryptography import x509
from lxml import etree

from hub_bundid import xmldsig
from hub_bundid.constants import (
    AKDB,
    AUTHN_METHODS,
    BINDING_POST,
    BINDING_REDIRECT,
    CLASSIC_UI,
    DS,
    MD,
    NS,
    SAML,
    SAMLP,
    SIG_RSA_SHA256,
    STORK,
    STORK_RANK,
)
from hub_bundid.errors import SamlError
from hub_bundid.keys import KeyPair, cert_b64, cert_pem_from_b64
from hub_bundid.xmlutil import parse, text_of


def new_id() -> str:
    return "_" + uuid.uuid4().hex


def instant(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class RequestedAttribute:
    name: str
    required: bool = False


@dataclass
class AuthnRequestSpec:
    sp_entity_id: str
    acs_url: str
    destination: str
    min_rank: int
    attributes: list[RequestedAttribute]
    methods: list[str]
    organization_display_name: str
    online_service_id: str | None = None
    lang: str = "de"
    back_url: str | None = None
    request_id: str = field(default_factory=new_id)


def build_authn_request(spec: AuthnRequestSpec) -> Any:
    q = etree.QName
    root = etree.Element(q(SAMLP, "AuthnRequest"), nsmap={"saml2p": SAMLP, "saml2": SAML})
    root.set("ID", spec.request_id)
    root.set("Version", "2.0")
    root.set("IssueInstant", instant())
    root.set("Destination", spec.destination)
    root.set("AssertionConsumerServiceURL", spec.acs_url)
    root.set("ProtocolBinding", BINDING_POST)
    root.set("ForceAuthn", "true")
    root.set("IsPassive", "false")
    etree.SubElement(root, q(SAML, "Issuer")).text = spec.sp_entity_id
    ext = etree.SubElement(root, q(SAMLP, "Extensions"))
    req = etree.SubElement(
        ext,
        q(AKDB, "AuthenticationRequest"),
        nsmap={"akdb": AKDB},
        Version="2",
        EnableStatusDetail="true",
    )
    methods = etree.SubElement(req, q(AKDB, "AuthnMethods"))
    for method in AUTHN_METHODS:
        if method in spec.methods:
            etree.SubElement(
                etree.SubElement(methods, q(AKDB, method)), q(AKDB, "Enabled")
            ).text = "true"
    attrs = etree.SubElement(req, q(AKDB, "RequestedAttributes"))
    for attr in spec.attributes:
        etree.SubElement(
            attrs,
            q(AKDB, "RequestedAttribute"),
            Name=attr.name,
            RequiredAttribute="true" if attr.required else "false",
        )
    display = etree.SubElement(req, q(AKDB, "DisplayInformation"))
    ui = etree.SubElement(display, q(CLASSIC_UI, "Version"), nsmap={"classic-ui": CLASSIC_UI})
    etree.SubElement(
        ui, q(CLASSIC_UI, "OrganizationDisplayName")
    ).text = spec.organization_display_name
    etree.SubElement(ui, q(CLASSIC_UI, "Lang")).text = spec.lang
    if spec.back_url:
        etree.SubElement(ui, q(CLASSIC_UI, "BackURL")).text = spec.back_url
    if spec.online_service_id:
        etree.SubElement(ui, q(CLASSIC_UI, "OnlineServiceId")).text = spec.online_service_id
    context = etree.SubElement(root, q(SAMLP, "RequestedAuthnContext"), Comparison="minimum")
    etree.SubElement(context, q(SAML, "AuthnContextClassRef")).text = STORK[spec.min_rank]
    return root


def post_form_value(request: Any, pair: KeyPair) -> str:
    """HTTP-POST binding: the request signed (rsa-sha256) and base64-encoded."""
    xmldsig.sign(request, pair, SIG_RSA_SHA256)
    return base64.b64encode(
        etree.tostring(request, xml_declaration=True, encoding="UTF-8")
    ).decode()


def redirect_query(request: Any, relay_state: str, pair: KeyPair) -> str:
    """HTTP-Redirect binding: DEFLATE + base64, signature over the query string."""
    raw = etree.tostring(request)
    deflated = zlib.compress(raw)[2:-4]  # raw DEFLATE, as the binding requires
    query = (
        f"SAMLRequest={quote_plus(base64.b64encode(deflated).decode())}"
        f"&RelayState={quote_plus(relay_state)}&SigAlg={quote_plus(SIG_RSA_SHA256)}"
    )
    return f"{query}&Signature={quote_plus(xmldsig.redirect_signature(query, pair))}"


# --- the IdP side: reading an AuthnRequest -----------------------------------------------------


@dataclass
class ParsedRequest:
    request_id: str
    issuer: str
    acs_url: str
    min_rank: int
    force_authn: bool
    attributes: list[RequestedAttribute]
    methods: list[str]
    organization_display_name: str | None
    online_service_id: str | None
    lang: str | None
    back_url: str | None
    extension_version: str | None
    enable_status_detail: bool
    signed: bool


class RequestCheckFailed(Exception):
    """The request breaks one of BundID's rules; ``code`` is the IdP's error code."""

    def __init__(self, code: str, parsed: ParsedRequest | None, *, as_response: bool):
        super().__init__(code)
        self.code = code
        self.parsed = parsed
        self.as_response = as_response  # the real IdP answers these with a SAML Response


def read_post_request(saml_request_b64: str, sp_certs: list[bytes]) -> ParsedRequest:
    try:
        data = base64.b64decode(saml_request_b64, validate=False)
    except ValueError as exc:
        raise SamlError("malformed_request", "SAMLRequest is not base64") from exc
    root = parse(data, what="AuthnRequest")
    signed = False
    if xmldsig.own_signature(root) is not None:
        xmldsig.verify(root, sp_certs)
        signed = True
    return _read_request(root, signed)


def read_redirect_request(raw_query: str, sp_certs: list[bytes]) -> ParsedRequest:
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    if "SAMLRequest" not in params:
        raise SamlError("malformed_request", "SAMLRequest is missing")
    try:
        xml = zlib.decompress(base64.b64decode(params["SAMLRequest"]), -15, 1024 * 1024)
    except (ValueError, zlib.error) as exc:
        raise SamlError("malformed_request", "SAMLRequest is not DEFLATE+base64") from exc
    signed = False
    if "Signature" in params:
        # The signature covers the parameters exactly as sent, in this order.
        parts = dict(p.split("=", 1) for p in raw_query.split("&") if "=" in p)
        signed_part = "&".join(
            f"{k}={parts[k]}" for k in ("SAMLRequest", "RelayState", "SigAlg") if k in parts
        )
        if params.get("SigAlg") != SIG_RSA_SHA256 or not any(
            xmldsig.verify_redirect_signature(signed_part, params["Signature"], c) for c in sp_certs
        ):
            raise SamlError("signature_invalid", "the request's signature does not verify")
        signed = True
    return _read_request(parse(xml, what="AuthnRequest"), signed)


def _read_request(root: Any, signed: bool) -> ParsedRequest:
    if root.tag != f"{{{SAMLP}}}AuthnRequest":
        raise SamlError("malformed_request", "not an AuthnRequest")
    ext = root.find("samlp:Extensions/akdb:AuthenticationRequest", NS)
    attrs_el = ext.find("akdb:RequestedAttributes", NS) if ext is not None else None
    methods_el = ext.find("akdb:AuthnMethods", NS) if ext is not None else None
    ui = ext.find("akdb:DisplayInformation/classic-ui:Version", NS) if ext is not None else None

    def ui_text(name: str) -> str | None:
        el = ui.find(f"classic-ui:{name}", NS) if ui is not None else None
        value = text_of(el).strip() if el is not None else ""
        return value or None

    ref = root.find("samlp:RequestedAuthnContext/saml2:AuthnContextClassRef", NS)
    methods = []
    if methods_el is not None:
        for m in methods_el:
            enabled = m.find("akdb:Enabled", NS)
            if enabled is None or text_of(enabled).strip().lower() == "true":
                methods.append(etree.QName(m).localname)
    parsed = ParsedRequest(
        request_id=root.get("ID", ""),
        issuer=text_of(root.find("saml2:Issuer", NS)).strip(),
        acs_url=root.get("AssertionConsumerServiceURL", ""),
        min_rank=STORK_RANK.get(text_of(ref).strip(), 1) if ref is not None else 1,
        force_authn=root.get("ForceAuthn") == "true",
        attributes=[
            RequestedAttribute(
                "".join((a.get("Name") or "").split()), a.get("RequiredAttribute") == "true"
            )
            for a in (attrs_el if attrs_el is not None else [])
        ],
        methods=methods,
        organization_display_name=ui_text("OrganizationDisplayName"),
        online_service_id=ui_text("OnlineServiceId"),
        lang=ui_text("Lang"),
        back_url=ui_text("BackURL"),
        extension_version=ext.get("Version") if ext is not None else None,
        enable_status_detail=ext is not None and ext.get("EnableStatusDetail") == "true",
        signed=signed,
    )
    check_request(parsed, ext is not None, attrs_el is not None)
    return parsed


def check_request(p: ParsedRequest, has_extension: bool, has_attributes: bool) -> None:
    """BundID's request rules with its error codes (official interface description §9)."""
    if not p.signed:
        raise RequestCheckFailed("saml-request-not-signed", p, as_response=True)
    if not has_extension:
        raise RequestCheckFailed("akdb-extension-missing", p, as_response=False)
    if p.extension_version == "1":
        raise RequestCheckFailed("akdb-extension-v1-deprecated", p, as_response=True)
    if not has_attributes or not p.attributes:
        raise RequestCheckFailed("requested-attributes-empty", p, as_response=True)
    if any(not a.name for a in p.attributes):
        raise RequestCheckFailed("requested-attributes-missing-name", p, as_response=False)
    if not p.organization_display_name:
        raise RequestCheckFailed("organization-display-name-missing", p, as_response=True)
    if not p.methods:
        raise RequestCheckFailed("empty-authentication-methods", p, as_response=False)


# --- metadata ----------------------------------------------------------------------------------


def sp_metadata(entity_id: str, acs_url: str, signing: KeyPair, encryption: KeyPair) -> bytes:
    """SP metadata as BundID wants it: no validUntil, no ID, separate signing/encryption keys."""
    q = etree.QName
    root = etree.Element(q(MD, "EntityDescriptor"), nsmap={"md": MD, "ds": DS}, entityID=entity_id)
    sp = etree.SubElement(
        root,
        q(MD, "SPSSODescriptor"),
        AuthnRequestsSigned="true",
        WantAssertionsSigned="true",
        protocolSupportEnumeration=SAMLP,
    )
    for use, pair in (("signing", signing), ("encryption", encryption)):
        kd = etree.SubElement(sp, q(MD, "KeyDescriptor"), use=use)
        x509 = etree.SubElement(etree.SubElement(kd, q(DS, "KeyInfo")), q(DS, "X509Data"))
        etree.SubElement(x509, q(DS, "X509Certificate")).text = pair.cert_b64
    etree.SubElement(
        sp, q(MD, "NameIDFormat")
    ).text = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    etree.SubElement(
        sp,
        q(MD, "AssertionConsumerService"),
        Binding=BINDING_POST,
        Location=acs_url,
        index="0",
        isDefault="true",
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_post: str | None
    sso_redirect: str | None
    signing_certs: list[bytes]


def read_idp_metadata(data: bytes) -> IdpMetadata:
    root = parse(data, max_bytes=4 * 1024 * 1024, what="IdP metadata")
    entities = (
        [root]
        if root.tag == f"{{{MD}}}EntityDescriptor"
        else root.findall("md:EntityDescriptor", NS)
        if root.tag == f"{{{MD}}}EntitiesDescriptor"
        else []
    )
    for entity in entities:
        idp = entity.find("md:IDPSSODescriptor", NS)
        if idp is None:
            continue
        try:
            certs = [
                cert_pem_from_b64(text_of(c))
                for kd in idp.findall("md:KeyDescriptor", NS)
                if kd.get("use") in (None, "signing")
                for c in kd.iterfind(".//ds:X509Certificate", NS)
            ]
        except ValueError:
            raise SamlError(
                "metadata_invalid", "a signing certificate in the IdP metadata is not X.509"
            ) from None
        sso = {
            s.get("Binding"): s.get("Location") for s in idp.findall("md:SingleSignOnService", NS)
        }
        if not certs:
            raise SamlError("metadata_invalid", "the IdP metadata has no signing certificate")
        for pem in certs:
            try:
                x509.load_pem_x509_certificate(pem)
            except ValueError:
                raise SamlError(
                    "metadata_invalid", "a signing certificate in the IdP metadata is not X.509"
                ) from None
        return IdpMetadata(
            entity.get("entityID", ""), sso.get(BINDING_POST), sso.get(BINDING_REDIRECT), certs
        )
    raise SamlError("metadata_invalid", "no IDPSSODescriptor in the IdP metadata")


def idp_metadata(entity_id: str, base_url: str, signing: KeyPair, encryption: KeyPair) -> bytes:
    """The simulator's metadata, wrapped in an EntitiesDescriptor like the real one."""
    q = etree.QName
    outer = etree.Element(q(MD, "EntitiesDescriptor"), nsmap={"md": MD, "ds": DS})
    entity = etree.SubElement(outer, q(MD, "EntityDescriptor"), entityID=entity_id)
    idp = etree.SubElement(
        entity,
        q(MD, "IDPSSODescriptor"),
        WantAuthnRequestsSigned="true",
        protocolSupportEnumeration=SAMLP,
    )
    for use, pair in (("signing", signing), ("encryption", encryption)):
        kd = etree.SubElement(idp, q(MD, "KeyDescriptor"), use=use)
        x509 = etree.SubElement(etree.SubElement(kd, q(DS, "KeyInfo")), q(DS, "X509Data"))
        etree.SubElement(x509, q(DS, "X509Certificate")).text = cert_b64(pair.cert_pem)
    for binding, path in ((BINDING_POST, "POST"), (BINDING_REDIRECT, "Redirect")):
        etree.SubElement(
            idp,
            q(MD, "SingleSignOnService"),
            Binding=binding,
            Location=f"{base_url}/idp/profile/SAML2/{path}/SSO",
        )
    return etree.tostring(outer, xml_declaration=True, encoding="UTF-8", pretty_print=True)
