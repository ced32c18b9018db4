"""JOSE for FIT-Connect, with joserfc and nothing left to chance.

- Content: JWE compact, ``RSA-OAEP-256`` key wrap with ``A256GCM``; no other algorithm is ever
  accepted (so ``alg: none``, ``dir`` and symmetric key wrapping are refused before any
  cryptography runs), the ``kid`` must be the destination's encryption key, a ``cty`` is set.
- Events: Security Event Tokens (RFC 8417) as JWS compact, ``PS512``, ``typ: secevent+jwt``.
- Keys: RSA JWKs; a destination's encryption key must be for ``wrapKey``/``RSA-OAEP-256`` and at
  least 4096 bits, its signing key for ``verify``/``PS512``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

JWE_ALGORITHMS = ["RSA-OAEP-256", "A256GCM"]
SET_ALG = "PS512"
SET_TYP = "secevent+jwt"
SET_SCHEMA = "https://schema.fitko.de/fit-connect/set-payload/1.2.2/set-payload.schema.json"
EVENTS = "https://schema.fitko.de/fit-connect/events/"
MAX_JWE_BYTES = 64 * 1024 * 1024


class CryptoRefused(ValueError):
    """A token that must not be processed; ``reason`` is a short machine word."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _b64json(part: str) -> dict[str, Any]:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def _registry() -> jwe.JWERegistry:
    """Only our algorithms; attachments up to :data:`MAX_JWE_BYTES` (joserfc allows 64 KB of
    ciphertext by default, far less than FIT-Connect attachments)."""
    registry = jwe.JWERegistry(algorithms=JWE_ALGORITHMS)
    registry.max_ciphertext_length = MAX_JWE_BYTES
    return registry


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwe_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWE, checked before anything is decrypted."""
    parts = token.split(".")
    if len(parts) != 5:
        raise CryptoRefused("format", "not a JWE in compact serialization (five parts)")
    try:
        header = _b64json(parts[0])
    except (ValueError, UnicodeDecodeError):
        raise CryptoRefused("format", "the JWE header is not base64url JSON") from None
    if header.get("alg") != "RSA-OAEP-256" or header.get("enc") != "A256GCM":
        raise CryptoRefused(
            "algorithm",
            f"alg {header.get('alg')!r}/enc {header.get('enc')!r}: only RSA-OAEP-256 with A256GCM",
        )
    return header


def authentication_tag(token: str) -> str:
    """The fifth part of a compact JWE (FIT-Connect's accept event lists them)."""
    return token.rsplit(".", 1)[-1]


def encrypt(plaintext: bytes, key: RSAKey, *, cty: str) -> str:
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": key.kid, "cty": cty}
    return jwe.encrypt_compact(header, plaintext, key, algorithms=JWE_ALGORITHMS)


def decrypt(token: str, key: RSAKey, *, expect_kid: str) -> bytes:
    if len(token) > MAX_JWE_BYTES:
        raise CryptoRefused("size", f"the JWE is larger than {MAX_JWE_BYTES} bytes")
    header = jwe_header(token)
    if header.get("kid") != expect_kid:
        raise CryptoRefused("kid", f"kid {header.get('kid')!r} is not this destination's key")
    try:
        return jwe.decrypt_compact(token, key, registry=_registry()).plaintext
    except (JoseError, ValueError) as exc:
        raise CryptoRefused("decrypt", f"does not decrypt: {type(exc).__name__}") from None


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


# --- keys ----------------------------------------------------------------------------------------


def load_key(jwk: dict[str, Any]) -> RSAKey:
    # key_ops/use stay in the published JWK; joserfc would map FIT-Connect's wrapKey/unwrapKey
    # onto its own operation names, so the imported key goes without them.
    key = RSAKey.import_key({k: v for k, v in jwk.items() if k not in ("key_ops", "use")})
    if "kid" not in jwk:
        raise CryptoRefused("key", "a FIT-Connect key needs a kid")
    return key


def check_encryption_key(jwk: dict[str, Any]) -> RSAKey:
    """A destination's public encryption key, as the sender must check it before use."""
    if jwk.get("kty") != "RSA":
        raise CryptoRefused("key", "the encryption key is not RSA")
    if jwk.get("alg") != "RSA-OAEP-256" or "wrapKey" not in (jwk.get("key_ops") or []):
        raise CryptoRefused("key", "the encryption key is not for wrapKey with RSA-OAEP-256")
    key = load_key({k: v for k, v in jwk.items() if k not in ("key_ops", "use", "x5c")})
    bits = key.public_key.key_size  # type: ignore[union-attr]
    if bits < 4096:
        raise CryptoRefused("key", f"the encryption key has {bits} bits; at least 4096")
    return key


def new_key_pair(kid: str, *, use: str, bits: int = 4096) -> dict[str, Any]:
    """A private RSA JWK for a destination: ``use`` ``enc`` (RSA-OAEP-256) or ``sig`` (PS512)."""
    alg, ops = ("RSA-OAEP-256", ["unwrapKey"]) if use == "enc" else ("PS512", ["sign"])
    key = RSAKey.generate_key(bits, parameters={"kid": kid, "alg": alg, "use": use, "key_ops": ops})
    return key.as_dict(private=True)


def public_jwk(private: dict[str, Any]) -> dict[str, Any]:
    public = RSAKey.import_key(private).as_dict(private=False)
    ops = {"unwrapKey": "wrapKey", "sign": "verify"}
    return {
        **public,
        "kid": private["kid"],
        "alg": private.get("alg"),
        "use": private.get("use"),
        "key_ops": [ops.get(o, o) for o in private.get("key_ops", [])],
    }


# --- Security Event Tokens ----------------------------------------------------------------


@dataclass(frozen=True)
class SecurityEvent:
    issuer: str
    subject: str
    case: str
    event: str  # the short name, e.g. accept-submission
    payload: dict[str, Any]
    issued_at: int
    jti: str


def make_set(
    key: RSAKey,
    *,
    issuer: str,
    submission_id: str,
    case_id: str,
    event: str,
    payload: dict[str, Any],
) -> str:
    claims = {
        "$schema": SET_SCHEMA,
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "iat": int(time.time()),
        "sub": f"submission:{submission_id}",
        "txn": f"case:{case_id}",
        "events": {EVENTS + event: payload},
    }
    header = {"alg": SET_ALG, "typ": SET_TYP, "kid": key.kid}
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=[SET_ALG])


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWS *without* verifying it: only to choose the key to verify with."""
    try:
        head, body, _ = token.split(".")
        return _b64json(head), _b64json(body)
    except (ValueError, UnicodeDecodeError):
        raise CryptoRefused("format", "not a compact JWS") from None


def read_set(token: str, keys: Any) -> SecurityEvent:
    """Verify a SET (``keys``: one key or a KeySet) and check its shape."""
    header, _ = peek(token)
    if header.get("alg") != SET_ALG or header.get("typ") != SET_TYP or not header.get("kid"):
        raise CryptoRefused("set", "a SET needs alg PS512, typ secevent+jwt and a kid")
    try:
        found = jws.deserialize_compact(token, keys, algorithms=[SET_ALG])
    except (JoseError, ValueError) as exc:
        raise CryptoRefused("signature", f"the SET's signature: {type(exc).__name__}") from None
    claims = json.loads(found.payload)
    missing = {"jti", "iss", "iat", "sub", "txn", "events"} - set(claims)
    if missing or len(claims.get("events") or {}) != 1:
        raise CryptoRefused("set", f"a SET needs {sorted(missing) or 'exactly one event'}")
    ((name, payload),) = claims["events"].items()
    return SecurityEvent(
        issuer=claims["iss"],
        subject=claims["sub"],
        case=claims["txn"],
        event=name.removeprefix(EVENTS),
        payload=payload,
        issued_at=claims["iat"],
        jti=claims["jti"],
    )


__all__ = [
    "CryptoRefused",
    "SecurityEvent",
    "authentication_tag",
    "check_encryption_key",
    "decrypt",
    "encrypt",
    "jwe_header",
    "load_key",
    "make_set",
    "new_key_pair",
    "public_jwk",
    "read_set",
    "sha512",
]
