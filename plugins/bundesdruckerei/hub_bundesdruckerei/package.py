"""The application package, interface version 1 (what the passport software receives).

``POST {base}/v1/applications`` with ``multipart/form-data``, streamed (chunked):

1. part ``manifest`` (``application/jose``): a compact JWS, ES256, ``typ``
   ``hub-koffer-manifest+json``, ``kid`` the RFC 7638 thumbprint of the hub's key (its JWKS is
   served at ``/v1/koffer/jwks.json``). Payload::

       {"version": 1, "record": {...the hub record...}, "issued_at": "...",
        "attachments": [{"id", "purpose", "media_type", "size", "sha256"}, ...]}

2. one part per attachment, named by its id, with its media type: the bytes, whose size and
   SHA-256 the receiver checks against the manifest.

The receiver answers 202 (or 200 when it has the record already) with ``{"receipt": "..."}``,
then reports through ``POST {hub}/v1/koffer/status/{record_id}`` with a bearer token:
``{"status": "received" | "in_production" | "ready_for_pickup" | "rejected", "receipt": "...",
"reason": "..."}``. Only ``received`` lets the hub destroy its copy.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

VERSION = 1
TYP = "hub-koffer-manifest+json"
# The statuses the passport software may report, with what they mean (passport_office:*).
STATUSES = {
    "received": "The passport software has the application (the hub's copy of the biometric "
    "data is destroyed)",
    "in_production": "The Bundesdruckerei produces the document",
    "ready_for_pickup": "The document is ready for pickup at the office",
    "rejected": "The passport office refused the application (data destroyed)",
}


class ManifestRejected(ValueError):
    """The manifest's signature or content is not acceptable."""


def signing_key(keys_dir: Path) -> ECKey:
    """The hub's manifest signing key (P-256), made on first use and kept in ``keys_dir``."""
    path = keys_dir / "manifest-signing.pem"
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        key = ECKey.generate_key("P-256")
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(key.as_pem(private=True))
        tmp.chmod(0o600)
        tmp.replace(path)
    return ECKey.import_key(path.read_bytes())


def jwks(key: ECKey) -> dict[str, Any]:
    public = ECKey.import_key(key.as_dict(private=False))
    return {
        "keys": [
            {**public.as_dict(private=False), "kid": key.thumbprint(), "use": "sig", "alg": "ES256"}
        ]
    }


def sign(record: dict[str, Any], attachments: list[dict[str, Any]], key: ECKey) -> str:
    payload = {
        "version": VERSION,
        "record": record,
        "attachments": attachments,
        "issued_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    header = {"alg": "ES256", "kid": key.thumbprint(), "typ": TYP}
    return jws.serialize_compact(header, json.dumps(payload, ensure_ascii=False).encode(), key)


def verify(token: str, keys: dict[str, Any]) -> dict[str, Any]:
    """The manifest's payload, if ``token`` is signed by one of ``keys`` (a JWKS)."""
    try:
        found = jws.deserialize_compact(
            token.strip(), KeySet.import_key_set(keys), algorithms=["ES256"]
        )
    except (JoseError, ValueError) as exc:
        raise ManifestRejected(f"signature: {type(exc).__name__}") from None
    if found.protected.get("typ") != TYP:
        raise ManifestRejected("typ: not a hub koffer manifest")
    manifest = json.loads(found.payload)
    if manifest.get("version") != VERSION:
        raise ManifestRejected(f"version: {manifest.get('version')!r} is not {VERSION}")
    return manifest


def multipart(
    manifest: str, parts: Iterable[tuple[dict[str, Any], Iterable[bytes]]]
) -> tuple[str, Iterator[bytes]]:
    """Content type and a generator of the body: the manifest, then each attachment streamed."""
    boundary = "hub-" + secrets.token_hex(16)

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="manifest"\r\n'
            f"Content-Type: application/jose\r\n\r\n{manifest}\r\n"
        ).encode()
        for meta, chunks in parts:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{meta["id"]}"; '
                f'filename="{meta["id"]}"\r\nContent-Type: {meta["media_type"]}\r\n\r\n'
            ).encode()
            yield from chunks
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    return f"multipart/form-data; boundary={boundary}", body()


__all__ = ["STATUSES", "ManifestRejected", "jwks", "multipart", "sign", "signing_key", "verify"]
