"""A small OpenID Connect provider on loopback for the console's tests: discovery, an
authorization endpoint that signs in whoever the test says (no login form), a token endpoint
that checks client authentication and PKCE, and the JWKS. ID tokens are RS256 with a fresh
key; ``forge`` makes the next one wrong in a chosen way."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from hub import BackgroundServer
from hub.testing import free_port


class Provider:
    def __init__(self, client_id: str, client_secret: str):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.user = "erika"  # who "signs in" at the provider
        self.forge: str | None = None  # "nonce", "audience", "signature" for the next token
        self.codes: dict[str, dict[str, Any]] = {}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return KeySet([self.key]).as_dict(private=False)

        @app.get("/authorize")
        def authorize(request: Request) -> Any:
            q = request.query_params
            if q.get("client_id") != self.client_id or q.get("code_challenge_method") != "S256":
                return JSONResponse({"error": "invalid_request"}, 400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": q["nonce"],
                "challenge": q["code_challenge"],
                "redirect_uri": q["redirect_uri"],
                "user": self.user,
            }
            back = urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

        @app.post("/token")
        def token(
            request: Request,
            grant_type: str = Form(...),
            code: str = Form(...),
            redirect_uri: str = Form(...),
            code_verifier: str = Form(...),
        ) -> Any:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, 401)
            grant = self.codes.pop(code, None)
            digest = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest())
            if (
                grant is None
                or grant_type != "authorization_code"
                or grant["redirect_uri"] != redirect_uri
                or digest.rstrip(b"=").decode() != grant["challenge"]
            ):
                return JSONResponse({"error": "invalid_grant"}, 400)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "sub": f"sub-{grant['user']}",
                "aud": self.client_id,
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                "preferred_username": grant["user"],
            }
            key = self.key
            if self.forge == "nonce":
                claims["nonce"] = "another"
            elif self.forge == "audience":
                claims["aud"] = "someone-else"
            elif self.forge == "signature":
                key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
            self.forge = None
            signed = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            return {"access_token": "at", "token_type": "Bearer", "id_token": signed}

        return app

    def start(self) -> BackgroundServer:
        return BackgroundServer(self.app(), "127.0.0.1", self.port, name="oidc-test").start()
