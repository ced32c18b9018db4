"""API clients: bearer tokens checked by SHA-256, scopes, and the municipalities they serve."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from hub.core.config import ClientConfig

_BEARER = "bearer "


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_client(clients: list[ClientConfig], authorization: str | None) -> ClientConfig | None:
    if not authorization or not authorization.lower().startswith(_BEARER):
        return None
    digest = token_sha256(authorization[len(_BEARER) :].strip())
    found = None
    for client in clients:  # compare against every client: timing says nothing about which
        if hmac.compare_digest(client.token_sha256, digest):
            found = client
    return found


def may_act_for(client: ClientConfig, ars: str) -> bool:
    for pattern in client.municipalities:
        if (
            pattern == "*"
            or pattern == ars
            or (pattern.endswith("*") and ars.startswith(pattern[:-1]))
        ):
            return True
    return False


def authenticate(
    clients: list[ClientConfig], authorization: str | None, scope: str
) -> ClientConfig:
    """The client behind a bearer token, which must hold ``scope`` (else 401/403)."""
    client = find_client(clients, authorization)
    if client is None:
        raise HTTPException(
            401,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="hub"'},
        )
    if scope is not None and scope not in client.scopes:
        raise HTTPException(403, f"client {client.name!r} lacks the scope {scope!r}")
    return client


def require_client(scope: str | None) -> Callable[[Request], Awaitable[ClientConfig]]:
    """FastAPI dependency: the authenticated client, which must hold ``scope`` (None: any)."""

    # async on purpose: a sync dependency would cost a threadpool hop on every request.
    async def dependency(request: Request) -> ClientConfig:
        return authenticate(
            request.app.state.hub.config.clients, request.headers.get("authorization"), scope
        )

    dependency.hub_bearer_scope = scope  # type: ignore[attr-defined]  # read by the OpenAPI
    return dependency
