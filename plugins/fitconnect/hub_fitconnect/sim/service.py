"""A FIT-Connect on loopback (``hub fitconnect simulator``), for development and the tests.

Token endpoint (client credentials, ``client_secret_post``), a Submission API v2 subset
(destinations and their keys, create / upload / submit, pickup list and fetch, attachments, the
case event log), SETs signed with the service's own key (JWKS at ``/.well-known/jwks.json``),
callbacks with the SHA-512 HMAC over ``timestamp.body``, and a Routing API stub whose
``destinationSignature`` is signed by a portal key (JWKS at ``/portal/jwks.json``).

It is as strict as the real service where the research says how it behaves: a JWE without
``cty`` or for another ``kid`` is refused with 422, an unannounced attachment too, a submission
cannot be submitted before its attachments are uploaded, events must be signed by the
destination's signing key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jws
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub_fitconnect import crypto

PROBLEMS = "https://schema.fitko.de/fit-connect/submission-api/problems/"
SEND_SCOPE = "https://schema.fitko.de/fit-connect/oauth/scopes/send-submissions"


def _problem(status: int, slug: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": PROBLEMS + slug,
            "title": slug.replace("-", " "),
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type="application/problem+json",
    )


@dataclass
class Destination:
    id: str
    encryption_key: dict[str, Any]  # public JWK
    signing_key: dict[str, Any]  # public JWK
    services: list[dict[str, Any]]
    callback_url: str | None = None
    callback_secret: str | None = None
    status: str = "active"
    metadata_versions: list[str] = field(default_factory=lambda: ["2.1.0", "1.0.0"])


@dataclass
class Submission:
    id: str
    case_id: str
    destination: str
    announced: list[str]
    public_service: dict[str, Any]
    attachments: dict[str, str] = field(default_factory=dict)
    metadata: str | None = None
    data: str | None = None
    state: str = "created"


@dataclass
class FitConnectSimulator:
    base_url: str
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "platform-1"})
    )
    portal_key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "portal-1"})
    )
    token_seconds: int = 1800
    clients: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # id -> (secret, dest)
    destinations: dict[str, Destination] = field(default_factory=dict)
    submissions: dict[str, Submission] = field(default_factory=dict)
    events: dict[str, list[str]] = field(default_factory=dict)  # case id -> SETs
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    callbacks: list[tuple[str, int]] = field(default_factory=list)  # (url, HTTP status)
    token_requests: int = 0
    # The BundID mailbox (ZBP) behind FIT-Connect's ZBP adapter: mailbox UUID -> messages.
    mailboxes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _mailbox_keys: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> id
    _faults: dict[str, list[int]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- set-up (what the Self-Service-Portal does) ------------------------------------------

    def add_client(self, client_id: str, secret: str, destination: str | None = None) -> None:
        """A sender client (``destination`` None) or a subscriber client of a destination."""
        self.clients[client_id] = (secret, destination)

    def add_destination(
        self,
        destination_id: str,
        encryption_key: dict[str, Any],
        signing_key: dict[str, Any],
        *,
        leika: str,
        regions: list[str],
        schema_uri: str,
        callback_url: str | None = None,
        callback_secret: str | None = None,
    ) -> Destination:
        d = Destination(
            destination_id,
            encryption_key,
            signing_key,
            [
                {
                    "identifier": f"urn:de:fim:leika:leistung:{leika}",
                    "regions": regions,
                    "submissionSchemas": [
                        {"schemaUri": schema_uri, "mimeType": "application/json"}
                    ],
                }
            ],
            callback_url,
            callback_secret,
        )
        self.destinations[destination_id] = d
        return d

    def fail_next(
        self, method: str, path_prefix: str, status: int, times: int = 1, *, after: bool = False
    ) -> None:
        """Answer the next matching requests with ``status``; ``after``: do the work first and
        lose the answer (the client cannot know that it worked)."""
        with self._lock:
            key = f"{'after ' if after else ''}{method} {path_prefix}"
            self._faults.setdefault(key, []).extend([status] * times)

    # --- HTTP ---------------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        r = Route
        return Starlette(
            routes=[
                r("/token", self.token, methods=["POST"]),
                r("/.well-known/jwks.json", self.jwks, methods=["GET"]),
                r("/portal/jwks.json", self.portal_jwks, methods=["GET"]),
                r("/v2/destinations/{id}", self.destination, methods=["GET"]),
                r("/v2/destinations/{id}/keys/{kid}", self.destination_key, methods=["GET"]),
                r("/v2/submissions", self.create, methods=["POST"]),
                r("/v2/submissions", self.pickup_list, methods=["GET"]),
                r("/v2/submissions/{id}", self.submit, methods=["PUT"]),
                r("/v2/submissions/{id}", self.fetch, methods=["GET"]),
                r("/v2/submissions/{id}/attachments/{aid}", self.upload, methods=["PUT"]),
                r("/v2/submissions/{id}/attachments/{aid}", self.download, methods=["GET"]),
                r("/v2/cases/{case}/events", self.event_log, methods=["GET"]),
                r("/v2/cases/{case}/events", self.post_event, methods=["POST"]),
                r("/v2/routes", self.routes, methods=["GET"]),
                r("/zbp/v1/messages", self.mailbox_post, methods=["POST"]),
                r("/zbp/v1/mailboxes/{uuid}/messages", self.mailbox_read, methods=["GET"]),
            ]
        )

    def _fault(self, request: Request, *, after: bool = False) -> Response | None:
        with self._lock:
            for key, queue in self._faults.items():
                if key.startswith("after ") != after:
                    continue
                method, _, prefix = key.removeprefix("after ").partition(" ")
                if request.method == method and request.url.path.startswith(prefix) and queue:
                    return _problem(queue.pop(0), "technical-error", "injected by the test")
        return None

    def _client(self, request: Request) -> tuple[str, str | None] | Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            found = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if found is None or found[1] < time.time():
            return _problem(401, "unauthorized", "a valid access token is required")
        return found[0], self.clients[found[0]][1]

    async def token(self, request: Request) -> Response:
        form = await request.form()
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        known = self.clients.get(client_id)
        if (
            form.get("grant_type") != "client_credentials"
            or known is None
            or not hmac.compare_digest(known[0], secret)
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.token_requests += 1
            self.tokens[token] = (client_id, time.time() + self.token_seconds)
        scope = f"subscribe:destination:{known[1]}" if known[1] else SEND_SCOPE
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_seconds,
                "scope": scope,
            }
        )

    # --- the BundID mailbox (a double: no public ZBP interface reference exists) ----------

    async def mailbox_post(self, request: Request) -> Response:
        """A message for a citizen's BundID mailbox, as FIT-Connect's ZBP adapter takes it:
        a sender client's token; the same ``Idempotency-Key`` delivers once."""
        client = self._client(request)
        if isinstance(client, Response):
            return client
        try:
            body = await request.json()
        except ValueError:
            return _problem(400, "request-body-malformed", "the body is not JSON")
        why = _mailbox_problems(body)
        if why is not None:
            return _problem(400, "request-body-invalid", why)
        key = request.headers.get("idempotency-key")
        with self._lock:
            if key and key in self._mailbox_keys:
                return JSONResponse({"messageId": self._mailbox_keys[key]}, status_code=201)
            message_id = str(uuid.uuid4())
            box = self.mailboxes.setdefault(body["mailboxUuid"].lower(), [])
            box.append({**body, "messageId": message_id, "sentBy": client[0]})
            if key:
                self._mailbox_keys[key] = message_id
        return JSONResponse({"messageId": message_id}, status_code=201)

    async def mailbox_read(self, request: Request) -> Response:
        """What lies in a mailbox (for tests and the development run)."""
        with self._lock:
            found = list(self.mailboxes.get(request.path_params["uuid"].lower(), []))
        return JSONResponse({"messages": found})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(_public_set(self.key, "PS512"))

    async def portal_jwks(self, request: Request) -> Response:
        return JSONResponse(_public_set(self.portal_key, "PS512"))

    async def destination(self, request: Request) -> Response:
        d = self.destinations.get(request.path_params["id"])
        if d is None:
            return _problem(404, "destination-not-found", "no such destination")
        return JSONResponse(
            {
                "destinationId": d.id,
                "status": d.status,
                "encryptionKid": d.encryption_key["kid"],
                "publicServices": d.services,
                "metadataVersions": d.metadata_versions,
            },
            headers={"Cache-Control": "no-cache"},
        )

    async def destination_key(self, request: Request) -> Response:
        d = self.destinations.get(request.path_params["id"])
        kid = request.path_params["kid"]
        for key in (d.encryption_key, d.signing_key) if d else ():
            if key["kid"] == kid:
                return JSONResponse(key)
        return _problem(404, "key-not-found", "no such key")

    async def create(self, request: Request) -> Response:
        client = self._client(request)
        if isinstance(client, Response):
            return client
        if fault := self._fault(request):
            return fault
        body = await request.json()
        d = self.destinations.get(str(body.get("destinationId")))
        if d is None or d.status != "active":
            return _problem(422, "destination-state-invalid", "no active destination")
        identifier = (body.get("publicService") or {}).get("identifier")
        if identifier not in {s["identifier"] for s in d.services}:
            return _problem(422, "service-not-offered", f"{identifier} is not offered here")
        s = Submission(
            str(uuid.uuid4()),
            str(uuid.uuid4()),
            d.id,
            list(body.get("announcedAttachments") or []),
            body["publicService"],
        )
        with self._lock:
            self.submissions[s.id] = s
            self.events[s.case_id] = []
        return JSONResponse({"submissionId": s.id, "caseId": s.case_id}, status_code=201)

    def _own(self, request: Request, client: tuple[str, str | None]) -> Submission | Response:
        s = self.submissions.get(request.path_params["id"])
        if s is None or (client[1] is not None and client[1] != s.destination):
            return _problem(404, "submission-not-found", "no such submission")
        return s

    def _check_jwe(self, token: str, s: Submission, *, content: bool) -> Response | None:
        try:
            header = crypto.jwe_header(token)
        except crypto.CryptoRefused as exc:
            return _problem(422, "invalid-jwe", str(exc))
        if header.get("kid") != self.destinations[s.destination].encryption_key["kid"]:
            return _problem(422, "invalid-jwe-kid", "the kid is not the destination's key")
        if content and not header.get("cty"):
            return _problem(422, "missing-cty", "metadata and data need a cty header")
        return None

    async def upload(self, request: Request) -> Response:
        client = self._client(request)
        if isinstance(client, Response):
            return client
        s = self._own(request, client)
        if isinstance(s, Response):
            return s
        aid = request.path_params["aid"]
        if aid not in s.announced:
            return _problem(422, "attachment-not-announced", f"{aid} was not announced")
        token = (await request.body()).decode()
        if bad := self._check_jwe(token, s, content=False):
            return bad
        s.attachments[aid] = token
        return Response(status_code=204)

    async def submit(self, request: Request) -> Response:
        client = self._client(request)
        if isinstance(client, Response):
            return client
        if fault := self._fault(request):
            return fault
        s = self._own(request, client)
        if isinstance(s, Response):
            return s
        if s.state != "created":
            return _problem(409, "submission-state-invalid", f"the submission is {s.state}")
        missing = set(s.announced) - set(s.attachments)
        if missing:
            return _problem(422, "missing-attachments", f"not uploaded: {sorted(missing)}")
        body = await request.json()
        for part in ("encryptedMetadata", "encryptedData"):
            if part == "encryptedData" and part not in body:
                continue
            if bad := self._check_jwe(str(body.get(part, "")), s, content=True):
                return bad
        s.metadata, s.data, s.state = (
            body["encryptedMetadata"],
            body.get("encryptedData"),
            "submitted",
        )
        # The service signs the authentication tags of what was submitted (FIT-Connect's
        # submit-submission event), so a subscriber can tell if anything was swapped later.
        tags: dict[str, Any] = {
            "metadata": crypto.authentication_tag(s.metadata),
            "attachments": {a: crypto.authentication_tag(t) for a, t in s.attachments.items()},
        }
        if s.data:
            tags["data"] = crypto.authentication_tag(s.data)
        self._platform_event(s, "submit-submission", {"authenticationTags": tags})
        self._callback(s, "new-submissions")
        return JSONResponse({"submissionId": s.id, "caseId": s.case_id}, status_code=202)

    def _platform_event(self, s: Submission, event: str, payload: dict[str, Any]) -> None:
        token = crypto.make_set(
            self.key,
            issuer=self.base_url,
            submission_id=s.id,
            case_id=s.case_id,
            event=event,
            payload=payload,
        )
        with self._lock:
            self.events[s.case_id].append(token)

    def _callback(self, s: Submission, kind: str) -> None:
        d = self.destinations[s.destination]
        if not d.callback_url or not d.callback_secret:
            return
        body = json.dumps(
            {
                "type": f"https://schema.fitko.de/fit-connect/submission-api/callbacks/{kind}",
                "submissions": [{"destinationId": d.id, "submissionId": s.id, "caseId": s.case_id}],
            }
        ).encode()
        stamp = str(int(time.time()))
        mac = hmac.new(d.callback_secret.encode(), stamp.encode() + b"." + body, hashlib.sha512)

        def send() -> None:
            try:
                r = httpx.post(
                    d.callback_url,
                    content=body,
                    timeout=5,
                    headers={
                        "Content-Type": "application/json",
                        "callback-timestamp": stamp,
                        "callback-authentication": mac.hexdigest(),
                    },
                )
                self.callbacks.append((d.callback_url, r.status_code))
            except httpx.HTTPError:
                self.callbacks.append((d.callback_url, 0))

        threading.Thread(target=send, daemon=True).start()

    async def pickup_list(self, request: Request) -> Response:
        client = self._client(request)
        if isinstance(client, Response):
            return client
        if fault := self._fault(request):
            return fault
        dest = request.query_params.get("destinationId")
        if client[1] is None or dest != client[1]:
            return _problem(403, "forbidden", "not a subscriber of this destination")
        waiting = [
            s for s in self.submissions.values() if s.destination == dest and s.state == "submitted"
        ]
        offset = int(request.query_params.get("offset", 0))
        limit = min(int(request.query_params.get("limit", 100)), 500)
        page = waiting[offset : offset + limit]
        return JSONResponse(
            {
                "count": len(page),
                "offset": offset,
                "totalCount": len(waiting),
                "submissions": [
                    {"destinationId": s.destination, "submissionId": s.id, "caseId": s.case_id}
                    for s in page
                ],
            }
        )

    async def fetch(self, request: Request) -> Response:
        client = self._client(request)
        if isinstance(client, Response):
            return client
        s = self._own(request, client)
        if isinstance(s, Response) or s.state not in ("submitted", "accepted", "rejected"):
            return _problem(404, "submission-not-found", "no such submission")
        return JSONResponse(
            {
                "destinationId": s.destination,
                "submissionId": s.id,
                "caseId": s.case_id,
                "attachments": s.announced,
                "publicService": s.public_service,
                "encryptedMetadata": s.metadata,
                **({"encryptedData": s.data} if s.data else {}),
            }
        )

    async def download(self, request: Request) -> Response:
        client = self._client(request)
        if isinstance(client, Response):
            return client
        s = self._own(request, client)
        if isinstance(s, Response):
            return s
        token = s.attachments.get(request.path_params["aid"])
        if token is None:
            return _problem(404, "attachment-not-found", "no such attachment")
        return Response(token, media_type="application/jose")

    async def event_log(self, request: Request) -> Response:
        client = self._client(request)
        if isinstance(client, Response):
            return client
        log = self.events.get(request.path_params["case"])
        if log is None:
            return _problem(404, "case-not-found", "no such case")
        return JSONResponse(
            {"count": len(log), "offset": 0, "totalCount": len(log), "eventLog": list(log)}
        )

    async def post_event(self, request: Request) -> Response:
        client = self._client(request)
        if isinstance(client, Response):
            return client
        if fault := self._fault(request):
            return fault
        case = request.path_params["case"]
        s = next((x for x in self.submissions.values() if x.case_id == case), None)
        if s is None or client[1] != s.destination:
            return _problem(404, "case-not-found", "no such case")
        d = self.destinations[s.destination]
        token = (await request.body()).decode()
        try:
            event = crypto.read_set(token, RSAKey.import_key(d.signing_key))
        except crypto.CryptoRefused as exc:
            return _problem(422, "invalid-event", str(exc))
        if (
            event.issuer != d.id
            or event.subject != f"submission:{s.id}"
            or event.case != f"case:{case}"
        ):
            return _problem(422, "invalid-event", "iss, sub or txn do not match")
        if event.event not in ("accept-submission", "reject-submission"):
            return _problem(422, "invalid-event", f"{event.event} is not a subscriber event")
        if s.state != "submitted":
            return _problem(409, "submission-state-invalid", f"the submission is {s.state}")
        if event.event == "accept-submission":
            expected = {crypto.authentication_tag(s.metadata or "")}
            if s.data:
                expected.add(crypto.authentication_tag(s.data))
            expected |= {crypto.authentication_tag(t) for t in s.attachments.values()}
            tags = event.payload.get("authenticationTags") or {}
            given = {
                tags.get("metadata"),
                tags.get("data"),
                *((tags.get("attachments") or {}).values()),
            } - {None}
            if given != expected:
                return _problem(422, "invalid-event", "authenticationTags do not match")
        with self._lock:
            self.events[case].append(token)
            s.state = "accepted" if event.event == "accept-submission" else "rejected"
        return self._fault(request, after=True) or Response(status_code=204)

    async def routes(self, request: Request) -> Response:
        leika, ars = request.query_params.get("leikaKey", ""), request.query_params.get("ars", "")
        found = []
        for d in self.destinations.values():
            for svc in d.services:
                if svc["identifier"].endswith(f":{leika}") and any(
                    f"DE{ars}".startswith(r) for r in svc["regions"]
                ):
                    found.append(self._route(d, leika, ars))
        return JSONResponse(
            {"count": len(found), "offset": 0, "totalCount": len(found), "routes": found}
        )

    def _route(self, d: Destination, leika: str, ars: str) -> dict[str, Any]:
        claims = {
            "submissionHost": self.base_url.split("://", 1)[1],
            "iss": f"{self.base_url}/portal",
            "services": [
                {
                    "gebietIDs": [
                        f"urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:rs:{ars}"
                    ],
                    "leistungIDs": [f"urn:de:fim:leika:leistung:{leika}"],
                }
            ],
            "destinationId": d.id,
            "iat": int(time.time()),
            "jti": str(uuid.uuid4()),
        }
        signature = jws.serialize_compact(
            {"alg": "PS512", "typ": "JWT", "kid": self.portal_key.kid},
            json.dumps(claims).encode(),
            self.portal_key,
            algorithms=["PS512"],
        )
        return {
            "destinationId": d.id,
            "destinationSignature": signature,
            "destinationName": f"Destination {d.id[:8]}",
        }


MAILBOX_FIELDS = {"mailboxUuid", "title", "content", "sender", "service", "reference"}


def _mailbox_problems(body: Any) -> str | None:
    """What is wrong with a message for the mailbox (None when it is fine)."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if unknown := sorted(set(body) - MAILBOX_FIELDS):
        return f"unknown fields {unknown}"
    for name, limit in (("mailboxUuid", 36), ("title", 255), ("content", 100_000),
                        ("sender", 255), ("service", 255)):  # fmt: skip
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            return f"{name}: a text of 1 to {limit} characters is required"
    try:
        uuid.UUID(body["mailboxUuid"])
    except ValueError:
        return "mailboxUuid: not a UUID (the Postkorb-Handle)"
    return None


def _public_set(key: RSAKey, alg: str) -> dict[str, Any]:
    public = key.as_dict(private=False)
    return KeySet(
        [RSAKey.import_key({**public, "kid": key.kid, "alg": alg, "use": "sig"})]
    ).as_dict()


__all__ = ["FitConnectSimulator"]
