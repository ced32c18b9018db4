"""HTTP helpers shared by adapters: how a backend's answer maps onto the hub's error tree.

One mapping for every adapter: 2xx and 3xx are fine; 408, 425, 429 and 5xx may work later
(:class:`TransientError`, ``Retry-After`` honoured); any other 4xx will not
(:class:`PermanentError`); a timeout or a refused connection is transient. Messages name the
backend and the status, never the body (it may quote the applicant's data back).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from pydantic import BaseModel, Field, model_validator

from hub.core.errors import ConfigurationError, PermanentError, TransientError

RETRYABLE = frozenset({408, 425, 429})


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the backend asked us to wait (``Retry-After``: seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def raise_for_status(response: httpx.Response, backend: str) -> None:
    """Return for a success; raise the error the status means for a delivery."""
    code = response.status_code
    if code < 400:
        return
    if code in RETRYABLE or code >= 500:
        raise TransientError(f"{backend} answered {code}", retry_after=retry_after(response))
    raise PermanentError(f"{backend} answered {code}")


@contextmanager
def transport_errors(backend: str) -> Iterator[None]:
    """Timeouts and connection failures inside the block become :class:`TransientError`."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransientError(f"timeout waiting for {backend}") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"{type(exc).__name__} reaching {backend}") from exc


class TlsSettings(BaseModel):
    """TLS for a backend, as part of a settings model: subclass it (``class AcmeSettings(
    hub.TlsSettings)``) and the adapter's ``ctx.http`` verifies the server against
    ``ca_bundle`` (else the system's CAs) and presents ``client_cert`` (mutual TLS)."""

    client_cert: str | None = Field(default=None, description="PEM: our TLS client certificate")
    client_key: str | None = Field(default=None, description="PEM: its private key")
    ca_bundle: str | None = Field(default=None, description="PEM: the CAs for the server's cert")

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsSettings:
        if bool(self.client_cert) != bool(self.client_key):
            raise ValueError("client_cert and client_key go together")
        return self

    @property
    def tls_configured(self) -> bool:
        return bool(self.client_cert or self.ca_bundle)

    def ssl_context(self) -> ssl.SSLContext:
        """The context httpx (or any client) verifies and authenticates with; a missing or
        unreadable file is a :class:`ConfigurationError` naming the field."""
        for name in ("client_cert", "client_key", "ca_bundle"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigurationError(f"{name}: no such file {path}")
        try:
            context = ssl.create_default_context(cafile=self.ca_bundle)
            if self.client_cert:
                context.load_cert_chain(self.client_cert, self.client_key)
        except ssl.SSLError as exc:
            raise ConfigurationError(f"client_cert/ca_bundle: not usable PEM ({exc})") from None
        return context


def build_client(
    tls: TlsSettings | None,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An HTTP client with the hub's policy: no redirects followed (a redirect is not a
    delivery), one timeout, TLS from ``tls`` when it sets anything."""
    verify: ssl.SSLContext | bool = tls.ssl_context() if tls and tls.tls_configured else True
    return httpx.Client(
        timeout=timeout,
        verify=verify,
        headers=headers,
        follow_redirects=False,
        transport=transport,
    )


__all__ = [
    "RETRYABLE",
    "TlsSettings",
    "build_client",
    "raise_for_status",
    "retry_after",
    "transport_errors",
]
