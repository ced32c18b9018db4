"""HTTP helpers shared by adapters: how a backend's answer maps onto the hub's error tree.

One mapping for every adapter: 2xx and 3xx are fine; 408, 425, 429 and 5xx may work later
(:class:`TransientError`, ``Retry-After`` honoured); any other 4xx will not
(:class:`PermanentError`); a timeout or a refused connection is transient. Messages name the
backend and the status, never the body (it may quote the applicant's data back).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime

import httpx

from hub.core.errors import PermanentError, TransientError

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


__all__ = ["RETRYABLE", "raise_for_status", "retry_after", "transport_errors"]
