"""XML Encryption of assertions: decryption with python-xmlsec for the SP, encryption with
``cryptography`` for the simulator (python-xmlsec has no templates for xmlenc11 algorithms)."""

from __future__ import annotations

import base64
import os
from typing import Any

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from hub_bundid.constants import (
    DS,
    ENC_AES128_CBC,
    ENC_AES128_GCM,
    ENC_AES256_CBC,
    ENC_AES256_GCM,
    KEY_RSA_OAEP,
    KEY_RSA_OAEP_MGF1P,
    MGF1_SHA256,
    SAML,
    SHA256,
    XENC,
    XENC11,
)
from hub_bundid.errors import SamlError
from hub_bundid.keys import KeyPair

DATA_ALGORITHMS = {ENC_AES256_GCM: 32, ENC_AES128_GCM: 16, ENC_AES256_CBC: 32, ENC_AES128_CBC: 16}
KEY_ALGORITHMS = frozenset({KEY_RSA_OAEP_MGF1P, KEY_RSA_OAEP})


MODERN_DATA = frozenset({ENC_AES256_GCM, ENC_AES128_GCM})
MODERN_KEYS = frozenset({KEY_RSA_OAEP})


def decrypt_assertion(encrypted_assertion: Any, pair: KeyPair, *, legacy: bool = True) -> Any:
    """The Assertion inside ``saml2:EncryptedAssertion``, decrypted with the SP's key;
    without ``legacy`` only AES-GCM content and RSA-OAEP (SHA-256) key transport."""
    data_ok = DATA_ALGORITHMS if legacy else MODERN_DATA
    keys_ok = KEY_ALGORITHMS if legacy else MODERN_KEYS
    data = encrypted_assertion.findall(f"{{{XENC}}}EncryptedData")
    if len(data) != 1:
        raise SamlError("decryption_failed", "expected exactly one EncryptedData")
    method = data[0].find(f"{{{XENC}}}EncryptionMethod")
    if method is None or method.get("Algorithm") not in data_ok:
        raise SamlError("encryption_algorithm", "content encryption algorithm not accepted")
    for key_method in encrypted_assertion.iterfind(
        f".//{{{XENC}}}EncryptedKey/{{{XENC}}}EncryptionMethod"
    ):
        if key_method.get("Algorithm") not in keys_ok:
            raise SamlError("encryption_algorithm", "key transport algorithm not accepted")
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(pair.key_pem, xmlsec.KeyFormat.PEM))
    ctx = xmlsec.EncryptionContext(manager)
    try:
        result = ctx.decrypt(data[0])
    except xmlsec.Error as exc:
        raise SamlError(
            "decryption_failed", "the assertion cannot be decrypted with our key"
        ) from exc
    if not isinstance(result, etree._Element) or result.tag != f"{{{SAML}}}Assertion":
        raise SamlError("decryption_failed", "the encrypted content is not an Assertion")
    return result


def encrypt_assertion(
    assertion: Any,
    recipient_cert_pem: bytes,
    data_algorithm: str = ENC_AES256_GCM,
    key_algorithm: str = KEY_RSA_OAEP,
) -> Any:
    """``saml2:EncryptedAssertion`` for ``assertion`` (simulator side)."""
    plain = etree.tostring(assertion)
    cek = os.urandom(DATA_ALGORITHMS[data_algorithm])
    if data_algorithm in (ENC_AES256_GCM, ENC_AES128_GCM):
        iv = os.urandom(12)
        payload = iv + AESGCM(cek).encrypt(iv, plain, None)
    else:
        iv = os.urandom(16)
        pad = 16 - len(plain) % 16
        padded = plain + os.urandom(pad - 1) + bytes([pad])
        encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
        payload = iv + encryptor.update(padded) + encryptor.finalize()
    public = x509.load_pem_x509_certificate(recipient_cert_pem).public_key()
    if key_algorithm == KEY_RSA_OAEP:
        oaep = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
    else:
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    wrapped = public.encrypt(cek, oaep)  # type: ignore[union-attr]

    ns = {"saml2": SAML, "xenc": XENC, "ds": DS}
    wrapper = etree.Element(f"{{{SAML}}}EncryptedAssertion", nsmap={"saml2": SAML})
    enc_data = etree.SubElement(
        wrapper, f"{{{XENC}}}EncryptedData", nsmap=ns, Type=XENC + "Element"
    )
    etree.SubElement(enc_data, f"{{{XENC}}}EncryptionMethod", Algorithm=data_algorithm)
    key_info = etree.SubElement(enc_data, f"{{{DS}}}KeyInfo")
    enc_key = etree.SubElement(key_info, f"{{{XENC}}}EncryptedKey")
    method = etree.SubElement(enc_key, f"{{{XENC}}}EncryptionMethod", Algorithm=key_algorithm)
    if key_algorithm == KEY_RSA_OAEP:
        etree.SubElement(method, f"{{{DS}}}DigestMethod", Algorithm=SHA256)
        etree.SubElement(
            method, f"{{{XENC11}}}MGF", nsmap={"xenc11": XENC11}, Algorithm=MGF1_SHA256
        )
    else:
        etree.SubElement(
            method, f"{{{DS}}}DigestMethod", Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"
        )
    cipher = etree.SubElement(
        etree.SubElement(enc_key, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue"
    )
    cipher.text = base64.b64encode(wrapped).decode()
    value = etree.SubElement(
        etree.SubElement(enc_data, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue"
    )
    value.text = base64.b64encode(payload).decode()
    return wrapper
