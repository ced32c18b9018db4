"""``webhook`` adapter: HTTP POST of the record as JSON, signed with HMAC-SHA256.

Headers sent:

* ``Idempotency-Key: <record id>`` — the receiver deduplicates retries with it.
* ``Hub-Signature: t=<unix seconds>,v1=<hex>`` where ``v1 = HMAC-SHA256(secret, "<t>.<body>")``.
  Receivers recompute it over the raw body, compare in constant time and reject stale ``t``.

2xx is success; 408, 425, 429 and 5xx are retried (``Retry-After`` honoured); other 4xx
dead-letter the delivery; connection errors and timeouts are retried.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
from pydantic import AnyHttpUrl, ConfigDict, Field

from hub.adapters._settings import parse_settings
from hub.core.context import CheckContext, DeliveryContext
from hub.core.errors import ConfigurationError, PermanentError, TransientError
from hub.core.hookspecs import hookimpl
from hub.core.http import TlsSettings, raise_for_status, transport_errors
from hub.core.record import Record
from hub.core.secrets import Secret

SIGNATURE_HEADER = "Hub-Signature"


class WebhookSettings(TlsSettings):
    """The receiver's URL and signing key; TLS settings (mutual TLS) from :class:`TlsSettings`."""

    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl
    secret: Secret = Field(description="The signing key, by reference: env:NAME or file:PATH")
    timeout: float = Field(default=10.0, gt=0)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: bytes, header: str, body: bytes, *, tolerance: float = 300, now: float | None = None
) -> bool:
    """Check a ``Hub-Signature`` header: for receivers and for our own tests."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), header)


class WebhookAdapter:
    def __init__(self, settings: WebhookSettings, secret: bytes):
        self.url = str(settings.url)
        self.timeout = settings.timeout
        self._secret = secret

    def deliver(self, record: Record, ctx: DeliveryContext) -> dict[str, Any]:
        body = record.model_dump_json(exclude={"deliveries", "history"}).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(record.id),
            SIGNATURE_HEADER: sign(self._secret, int(time.time()), body),
        }
        with transport_errors("the webhook"):
            response = ctx.http.post(self.url, content=body, headers=headers, timeout=self.timeout)
        if 300 <= response.status_code < 400:  # a redirect is not a delivery
            raise PermanentError(f"webhook answered {response.status_code}")
        raise_for_status(response, "webhook")
        return {"status": response.status_code}

    def check(self, ctx: CheckContext) -> str:
        try:
            response = ctx.http.request("OPTIONS", self.url, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise TransientError(f"{self.url} is not reachable: {type(exc).__name__}") from exc
        return f"{self.url} reachable (HTTP {response.status_code})"


def make_webhook_adapter(settings: dict[str, Any], hub: object) -> WebhookAdapter:
    parsed = parse_settings(WebhookSettings, settings)
    secret = parsed.secret.reveal()
    if len(secret) < 16:
        raise ConfigurationError("secret: use at least 16 characters")
    return WebhookAdapter(parsed, secret.encode())


@hookimpl
def register_adapters(register: Any) -> None:
    register(
        "webhook",
        make_webhook_adapter,
        description="HTTP POST with an HMAC-SHA256 signature and the record id as idempotency key",
    )


@hookimpl
def register_settings(register: Any) -> None:
    """``[adapters.x]`` of type ``webhook``."""
    register(WebhookSettings, adapter_type="webhook")
