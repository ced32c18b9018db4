"""Namespaces, algorithm URIs, attribute OIDs and trust levels as BundID uses them."""

from __future__ import annotations

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
AKDB = "https://www.akdb.de/request/2018/09"
CLASSIC_UI = "https://www.akdb.de/request/2018/09/classic-ui/v1"
NS = {
    "samlp": SAMLP,
    "saml2": SAML,
    "md": MD,
    "ds": DS,
    "xenc": XENC,
    "xenc11": XENC11,
    "akdb": AKDB,
    "classic-ui": CLASSIC_UI,
}

BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
ATTRNAME_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_REQUEST_DENIED = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
STATUS_AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
STATUS_NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"

C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SIG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SIG_RSA_PSS_SHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
SIGNATURE_ALGORITHMS = frozenset({SIG_RSA_SHA256, SIG_RSA_PSS_SHA256})
# What BundID sends since 2024; rsa-sha256 and AES-CBC/RSA-OAEP-MGF1P only with legacy_algorithms.
MODERN_SIGNATURE_ALGORITHMS = frozenset({SIG_RSA_PSS_SHA256})
ENC_AES256_GCM = XENC11 + "aes256-gcm"
ENC_AES128_GCM = XENC11 + "aes128-gcm"
ENC_AES256_CBC = XENC + "aes256-cbc"
ENC_AES128_CBC = XENC + "aes128-cbc"
KEY_RSA_OAEP_MGF1P = XENC + "rsa-oaep-mgf1p"
KEY_RSA_OAEP = XENC11 + "rsa-oaep"
MGF1_SHA256 = XENC11 + "mgf1sha256"

# STORK-QAA levels (bare strings, as BundID sends them) and the hub's trust levels.
STORK = {
    1: "STORK-QAA-Level-1",
    2: "STORK-QAA-Level-2",
    3: "STORK-QAA-Level-3",
    4: "STORK-QAA-Level-4",
}
STORK_RANK = {v: k for k, v in STORK.items()}
LEVEL_OF_RANK = {1: "basis", 2: "basis", 3: "substantiell", 4: "hoch"}
RANK_OF_LEVEL = {"basis": 1, "substantiell": 3, "hoch": 4}
# akdb:TrustLevel on each attribute: both vocabularies in use, compared case-insensitively.
ATTRIBUTE_TRUST = {
    "untergeordnet": 1,
    "basisregistrierung": 1,
    "normal": 2,
    "niedrig": 2,
    "substantiell": 3,
    "hoch": 4,
}
# Session limits per TR-03160-1 as BundID's FAQ gives them: (absolute, idle) seconds.
SESSION_LIMITS = {"basis": (12 * 3600, 3600), "substantiell": (2 * 3600, 1800), "hoch": (1800, 300)}

# Attributes by OID (map by Name, never by FriendlyName).
OIDS: dict[str, str] = {
    "urn:oid:2.5.4.42": "givenName",
    "urn:oid:2.5.4.4": "surname",
    "urn:oid:0.9.2342.19200300.100.1.3": "mail",
    "urn:oid:2.5.4.16": "postalAddress",
    "urn:oid:2.5.4.17": "postalCode",
    "urn:oid:2.5.4.7": "localityName",
    "urn:oid:1.2.40.0.10.2.1.1.225599": "country",
    "urn:oid:0.9.2342.19200300.100.1.40": "personalTitle",
    "urn:oid:1.3.6.1.4.1.33592.1.3.5": "gender",
    "urn:oid:1.2.40.0.10.2.1.1.55": "birthdate",
    "urn:oid:1.3.6.1.5.5.7.9.2": "placeOfBirth",
    "urn:oid:1.2.40.0.10.2.1.1.225566": "birthName",
    "urn:oid:1.2.40.0.10.2.1.1.225577": "nationality",
    "urn:oid:1.2.40.0.10.2.1.1.552255": "documentType",
    "urn:oid:2.5.4.20": "telephoneNumber",
    "urn:oid:1.3.6.1.4.1.25484.494450.10.1": "eIDAS-Issuing-Country",
    "urn:oid:1.3.6.1.4.1.25484.494450.5": "communityId",
    "urn:oid:1.3.6.1.4.1.25484.494450.3": "bPK2",
    "urn:oid:1.2.40.0.10.2.1.1.261.94": "EID-CITIZEN-QAA-LEVEL",
    "urn:oid:1.3.6.1.4.1.25484.494450.1": "Version",
    "urn:oid:1.3.6.1.4.1.25484.494450.2": "AssertionProvedBy",
    "urn:oid:2.5.4.18": "legacyPostkorbHandle",
    "urn:oid:1.3.6.1.4.1.25484.494450.4": "applicationId",
    "urn:oid:1.2.40.0.10.2.1.1.226699": "pseudonym",
    "urn:oid:1.3.6.1.4.1.25484.494450.7": "mfa",
}
OID_OF = {name: oid for oid, name in OIDS.items()}
AUTHN_METHODS = ("Authega", "Benutzername", "eID", "eIDAS", "Diia", "Elster", "FINK")
