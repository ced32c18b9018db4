"""The Submission API v2 as the hub uses it: OAuth2 client credentials (authlib's requests
client — its httpx integration is deprecated in authlib 1.9; the token cached until shortly
before it expires) and typed calls over the HTTP client the hub hands out. Errors
map onto the hub's error tree: 5xx, 429, timeouts and connection failures are transient; 4xx
permanent."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import requests
from authlib.integrations.requests_client import OAuth2Session

import hub

USER_AGENT = f"hub/{hub.__version__} (FIT-Connect)"
LEEWAY = 60  # seconds before expiry that a token is renewed


class ApiProblem(hub.PermanentError):
    def __init__(self, status: int, body: str):
        super().__init__(f"FIT-Connect answered {status}: {body[:300]}")
        self.status = status


class SubmissionApi:
    def __init__(
        self,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ):
        """``http``: the client from ``hub.http_client()`` (the hub's policy and transport);
        without one (tools, tests) the API builds its own."""
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self._oauth = OAuth2Session(
            client_id, client_secret, token_endpoint_auth_method="client_secret_post"
        )
        self._oauth.headers["User-Agent"] = USER_AGENT
        self._timeout = timeout
        self.http = http or httpx.Client(timeout=timeout, follow_redirects=False)
        self.http.headers["User-Agent"] = USER_AGENT
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._token[1] - LEEWAY < time.time():
                try:
                    found = self._oauth.fetch_token(
                        self.token_url, grant_type="client_credentials", timeout=self._timeout
                    )
                except requests.RequestException as exc:
                    raise hub.TransientError(f"token endpoint: {type(exc).__name__}") from exc
                except Exception as exc:  # authlib's OAuthError: wrong credentials
                    raise hub.PermanentError(f"token endpoint refused: {exc}") from exc
                self._token = (
                    found["access_token"],
                    time.time() + int(found.get("expires_in", 300)),
                )
            return self._token[0]

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kw.pop("headers", {})}
        try:
            response = self.http.request(method, f"{self.base_url}{path}", headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise hub.TransientError(f"FIT-Connect unreachable: {type(exc).__name__}") from exc
        if response.status_code == 401:  # token revoked early: one fresh try
            with self._lock:
                self._token = None
            headers["Authorization"] = f"Bearer {self.token()}"
            response = self.http.request(method, f"{self.base_url}{path}", headers=headers, **kw)
        if response.status_code >= 500 or response.status_code in (408, 425, 429):
            raise hub.TransientError(f"FIT-Connect answered {response.status_code}")
        if response.status_code >= 400:
            raise ApiProblem(response.status_code, response.text)
        return response

    def jwks(self) -> dict[str, Any]:
        """The delivery service's own signing keys (they sign the SETs it issues)."""
        return self.call("GET", "/.well-known/jwks.json").json()

    # --- subscriber -------------------------------------------------------------------------

    def pending(self, destination_id: str, limit: int = 100) -> list[dict[str, Any]]:
        found, offset = [], 0
        while True:
            page = self.call(
                "GET",
                "/v2/submissions",
                params={"destinationId": destination_id, "offset": offset, "limit": limit},
            ).json()
            found += page.get("submissions") or []
            offset += len(page.get("submissions") or [])
            if not page.get("submissions") or offset >= page.get("totalCount", 0):
                return found

    def submission(self, submission_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v2/submissions/{submission_id}").json()

    def attachment(self, submission_id: str, attachment_id: str) -> str:
        return self.call("GET", f"/v2/submissions/{submission_id}/attachments/{attachment_id}").text

    def post_event(self, case_id: str, token: str) -> None:
        self.call(
            "POST",
            f"/v2/cases/{case_id}/events",
            content=token,
            headers={"Content-Type": "application/jose"},
        )

    def events(self, case_id: str) -> list[str]:
        return self.call("GET", f"/v2/cases/{case_id}/events").json().get("eventLog") or []

    # --- sender --------------------------------------------------------------------------------

    def destination(self, destination_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v2/destinations/{destination_id}").json()

    def key(self, destination_id: str, kid: str) -> dict[str, Any]:
        return self.call("GET", f"/v2/destinations/{destination_id}/keys/{kid}").json()

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/v2/submissions", json=body).json()

    def upload(self, submission_id: str, attachment_id: str, token: str) -> None:
        self.call(
            "PUT",
            f"/v2/submissions/{submission_id}/attachments/{attachment_id}",
            content=token,
            headers={"Content-Type": "application/jose"},
        )

    def submit(self, submission_id: str, body: dict[str, Any]) -> None:
        self.call("PUT", f"/v2/submissions/{submission_id}", json=body)

    def close(self) -> None:
        self.http.close()
        self._oauth.close()


__all__ = ["ApiProblem", "SubmissionApi"]
