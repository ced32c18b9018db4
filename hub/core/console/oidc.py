"""Signing in to the console with the municipality's OpenID Connect provider: the
authorization code flow with PKCE (RFC 7636, S256), ``state`` and ``nonce``; the ID token's
signature checked against the provider's JWKS and its ``iss``, ``aud``, ``exp`` and ``nonce``
with joserfc. The provider only says who someone is: what they may do comes from their hub
account, whose name must be the configured claim.

The pending sign-in (state, nonce, verifier) travels in a short-lived cookie sealed with an
HMAC keyed by the client secret, so any node of the hub can finish it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hub.core.config import OidcConfig

PENDING_SECONDS = 600
ALGORITHMS = ["RS256", "PS256", "ES256"]


class OidcRefused(Exception):
    """The sign-in did not succeed; the message says why (no token, no personal data)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OidcLogin:
    def __init__(self, settings: OidcConfig, http: httpx.Client):
        self.settings = settings
        self.http = http
        self._discovery: tuple[float, dict[str, Any]] | None = None
        self._keys: KeySet | None = None

    # --- the provider ------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        """The provider's discovery document (read at most hourly)."""
        if self._discovery is None or time.monotonic() - self._discovery[0] > 3600:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            found = self._get_json(url)
            if found.get("issuer") != self.settings.issuer:
                raise OidcRefused("the discovery document names another issuer")
            self._discovery = (time.monotonic(), found)
        return self._discovery[1]

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, timeout=self.settings.timeout)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcRefused(
                f"the identity provider is not reachable ({type(exc).__name__})"
            ) from None

    def _keyset(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(self._get_json(self.discovery()["jwks_uri"]))
        return self._keys

    # --- the flow ----------------------------------------------------------------------------

    def start(self, redirect_uri: str, next_url: str) -> tuple[str, str]:
        """Where to send the browser, and the sealed cookie that must come back with it."""
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.settings.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        pending = {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "next": next_url,
            "until": time.time() + PENDING_SECONDS,
        }
        return f"{self.discovery()['authorization_endpoint']}?{query}", self._seal(pending)

    def finish(self, code: str, state: str, sealed: str, redirect_uri: str) -> tuple[str, str]:
        """The user name the provider vouches for, and where to go next."""
        pending = self._open(sealed)
        if not secrets.compare_digest(pending["state"], state):
            raise OidcRefused("the sign-in does not match the one this browser started")
        endpoint = self.discovery()["token_endpoint"]
        secret = self.settings.client_secret.reveal("console.oidc.client_secret")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pending["verifier"],
        }
        methods = self.discovery().get("token_endpoint_auth_methods_supported", [])
        auth: tuple[str, str] | None = (self.settings.client_id, secret)
        if methods and "client_secret_basic" not in methods:
            form.update(client_id=self.settings.client_id, client_secret=secret)
            auth = None
        try:
            response = self.http.post(endpoint, data=form, auth=auth, timeout=self.settings.timeout)
        except httpx.HTTPError as exc:
            raise OidcRefused(
                f"the identity provider is not reachable ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise OidcRefused(f"the identity provider refused the code ({response.status_code})")
        try:
            id_token = response.json()["id_token"]
        except (ValueError, KeyError):
            raise OidcRefused("the identity provider sent no ID token") from None
        claims = self._verify(id_token, pending["nonce"])
        username = claims.get(self.settings.username_claim)
        if not isinstance(username, str) or not username:
            raise OidcRefused(f"the ID token has no {self.settings.username_claim}")
        return username.strip().lower(), pending["next"]

    def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            try:
                token = jwt.decode(id_token, self._keyset(), algorithms=ALGORITHMS)
            except JoseError:  # a rotated key: read the JWKS again, once
                token = jwt.decode(id_token, self._keyset(refresh=True), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.settings.issuer},
                aud={"essential": True, "value": self.settings.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise OidcRefused(f"the ID token is not valid ({type(exc).__name__})") from None
        return dict(token.claims)

    # --- the pending sign-in, in a cookie ----------------------------------------------------

    def _key(self) -> bytes:
        secret = self.settings.client_secret.reveal("console.oidc.client_secret")
        return hashlib.sha256(b"hub-console-oidc\0" + secret.encode()).digest()

    def _seal(self, pending: dict[str, Any]) -> str:
        body = _b64(json.dumps(pending, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._key(), body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def _open(self, sealed: str) -> dict[str, Any]:
        body, _, mac = sealed.partition(".")
        expected = _b64(hmac.new(self._key(), body.encode(), hashlib.sha256).digest())
        if not mac or not hmac.compare_digest(mac, expected):
            raise OidcRefused("the sign-in was not started in this browser")
        pending = json.loads(_unb64(body))
        if pending["until"] < time.time():
            raise OidcRefused("the sign-in took too long; start again")
        return pending


__all__ = ["OidcLogin", "OidcRefused"]
