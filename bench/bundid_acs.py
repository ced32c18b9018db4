"""BundID ACS benchmark: verify, decrypt and validate one SAML Response.

Ours: :func:`hub_bundid.response.validate_response` (base64, size check, safe parse, PSS
signature verification with the pinned key, AES-256-GCM/RSA-OAEP decryption, inner signature,
every SAML check, attribute mapping) on a response built by the simulator.
Baseline in the same run: python-xmlsec alone on the same response — parse, verify the outer
signature, decrypt the assertion. Medians over --repeat whole calls; also the legacy profile.

    python bench/bundid_acs.py [--repeat 300]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from datetime import UTC, datetime, timedelta

import xmlsec
from lxml import etree

from hub_bundid import keys, messages
from hub_bundid.constants import NS, OID_OF, XENC
from hub_bundid.response import PendingRequest, validate_response
from hub_bundid.sim.idp import PERSONAS, Crypto, ResponseSpec, build_response

IDP, SP, ACS = "https://int.id.bund.de/idp", "https://hub.test/bundid", "https://hub.test/acs"
ATTRS = [
    OID_OF[n]
    for n in (
        "bPK2",
        "givenName",
        "surname",
        "birthName",
        "birthdate",
        "placeOfBirth",
        "postalAddress",
        "postalCode",
        "localityName",
        "country",
        "nationality",
        "mail",
        "AssertionProvedBy",
        "EID-CITIZEN-QAA-LEVEL",
    )
]


def baseline(raw: str, idp_cert: bytes, sp_key: bytes) -> None:
    root = etree.fromstring(base64.b64decode(raw))
    xmlsec.tree.add_ids(root, ["ID"])
    signature = root.find("ds:Signature", NS)
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(idp_cert, xmlsec.KeyFormat.CERT_PEM)
    ctx.verify(signature)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_key, xmlsec.KeyFormat.PEM))
    enc = xmlsec.EncryptionContext(manager)
    enc.decrypt(root.find(f"saml2:EncryptedAssertion/{{{XENC}}}EncryptedData", NS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    idp_pair, sp_enc = keys.generate("idp", bits=3072), keys.generate("sp", bits=3072)
    meta = messages.read_idp_metadata(
        messages.idp_metadata(IDP, "https://int.id.bund.de", idp_pair, idp_pair)
    )
    for label, crypto, legacy in (
        ("PSS + AES-256-GCM + RSA-OAEP", Crypto(), False),
        # accepted only with [plugins.bundid] legacy_algorithms = true (off by default)
        ("legacy rsa-sha256 + AES-256-CBC + OAEP-MGF1P", Crypto.legacy(), True),
    ):
        spec = ResponseSpec(IDP, SP, ACS, "_r", PERSONAS["eid"], ATTRS)
        raw = base64.b64encode(
            etree.tostring(build_response(spec, idp_pair, sp_enc.cert_pem, crypto))
        ).decode()
        pending = PendingRequest("_r", 4, datetime.now(UTC) + timedelta(hours=1))
        ours, base = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            validate_response(
                raw,
                sp_entity_id=SP,
                acs_url=ACS,
                encryption=sp_enc,
                idp=meta,
                lookup_request=lambda rid, p=pending: p,
                assertion_seen=lambda a: False,
                legacy_algorithms=legacy,
            )
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            baseline(raw, idp_pair.cert_pem, sp_enc.key_pem)
            base.append(time.perf_counter() - t)
        m_ours, m_base = statistics.median(ours) * 1000, statistics.median(base) * 1000
        print(f"{label}: {len(raw)} bytes base64, 3072-bit keys, {args.repeat} runs")
        print(f"  ours (full validation)        median {m_ours:.2f} ms")
        print(f"  baseline (xmlsec verify+decrypt) median {m_base:.2f} ms")
        print(f"  ratio {m_ours / m_base:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
