"""``[plugins.bundesdruckerei]``: the encrypted uploads, the master key, limits, retention."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict, Field

import hub
from hub import Secret

PURPOSES = ("photo", "fingerprint", "signature", "document")
MB = 1024 * 1024


class PhotoRules(BaseModel):
    """Geometry of a passport photo. 35 × 45 mm is the format the BMI's Fotomustertafel and the
    PassV prescribe; at 300 dpi, the print resolution used for it, that is 413 × 531 pixels.
    A digital photo must be portrait, in that aspect ratio (within ``aspect_tolerance``) and at
    least that large."""

    model_config = ConfigDict(extra="forbid")
    min_width: int = Field(default=413, ge=1)
    min_height: int = Field(default=531, ge=1)
    aspect: float = Field(default=35 / 45, gt=0)
    aspect_tolerance: float = Field(default=0.03, ge=0, le=0.5)
    max_pixels: int = Field(default=40_000_000, ge=1, description="Refuse decompression bombs")


class KofferSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    master_key: Secret = Field(
        description="The key that wraps every data key: a reference (env:NAME or file:PATH) to "
        "32 random bytes in base64"
    )
    data_dir: str = Field(default="var/koffer", description="Encrypted uploads")
    upload_expiry_hours: float = Field(default=24, gt=0, description="tus Upload-Expires")
    retention_hours: float = Field(
        default=72, gt=0, description="Undelivered biometric data is purged after this"
    )
    max_bytes: dict[str, int] = Field(
        default_factory=lambda: {
            "photo": 20 * MB,
            "fingerprint": 5 * MB,
            "signature": 5 * MB,
            "document": 256 * MB,
        },
        description="Upload size limit per purpose",
    )
    photo: PhotoRules = Field(default_factory=PhotoRules)
    callback_tokens: list[Secret] = Field(
        default_factory=list,
        description="References to the bearer tokens the back office presents on status "
        "callbacks (several during a rotation)",
    )
    janitor_interval: float = Field(default=300, gt=0, description="Seconds between purges")
    receiver: dict | None = Field(
        default=None, description="Development: run the reference receiver inside the hub"
    )
    dev_create_secrets: bool = Field(
        default=False, description="Development: make missing master key and token files"
    )

    def master(self) -> bytes:
        raw = self.master_key.reveal("plugins.bundesdruckerei.master_key")
        try:
            key = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise hub.ConfigurationError(
                "plugins.bundesdruckerei.master_key: not base64 (make one with "
                "`hub koffer master-key`)"
            ) from None
        if len(key) != 32:
            raise hub.ConfigurationError(
                "plugins.bundesdruckerei.master_key: must be 32 bytes (AES-256)"
            )
        return key

    def callback_secrets(self) -> list[str]:
        return [
            ref.reveal(f"plugins.bundesdruckerei.callback_tokens[{i}]")
            for i, ref in enumerate(self.callback_tokens)
        ]


__all__ = ["MB", "PURPOSES", "KofferSettings", "PhotoRules"]
