"""``POST /v1/records`` as a lean ASGI handler.

Intake is the hub's hot path: at a few hundred microseconds per request, FastAPI's exception and
dependency layers cost more than validating, enriching and committing the record. This
middleware answers that one route itself (same rules, same problem+json errors) and passes every
other request on to the FastAPI app. Its OpenAPI entry is declared in :mod:`hub.core.api`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.core.auth import authenticate, may_act_for
from hub.core.errors import IntakeRejected
from hub.core.problems import from_rejection, from_validation_error, problem
from hub.core.record import Submission

if TYPE_CHECKING:  # pragma: no cover
    from hub.core.hub import Hub

log = structlog.get_logger("hub.api")
PATH = "/v1/records"


class IntakeEndpoint:
    def __init__(self, app: ASGIApp, hub: Hub):
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            response = await self.submit(scope, receive)
        except IntakeRejected as exc:  # counted by intake, or below when it never got there
            response = from_rejection(exc)
        except HTTPException as exc:
            response = problem(
                exc.status_code,
                str(exc.detail),
                kind=f"http-{exc.status_code}",
                headers=exc.headers,
            )
        except ValidationError as exc:
            rejection = from_validation_error(exc)
            self.hub.intake.rejected(rejection, channel="unknown", client=None)
            response = from_rejection(rejection)
        await response(scope, receive, send)

    async def submit(self, scope: Scope, receive: Receive) -> Response:
        """Accept an application. The record is durable when this answers 202."""
        hub = self.hub
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        client = authenticate(hub.config.clients, authorization, "records:write")
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if ctype != b"application/json" and not ctype.endswith(b"+json"):
            return problem(
                415,
                "Unsupported media type",
                "send application/json",
                kind="unsupported-media-type",
            )
        body = await _read_body(receive)
        sub = Submission.model_validate_json(body)
        if not may_act_for(client, sub.municipality.ars):
            refused = IntakeRejected.one(
                "municipality.ars",
                "client_municipality",
                f"client {client.name!r} may not submit for this municipality",
                status_code=403,
            )
            hub.intake.rejected(refused, channel=sub.channel.value, client=client.name)
            raise refused
        claim = None
        if hub.registry.identity_providers:
            request = Request(scope)
            for provider in hub.registry.identity_providers.values():
                claim = provider.identify(request)
                if claim is not None:
                    break
        key = headers.get(b"idempotency-key")
        kwargs: dict[str, Any] = {
            "client": client.name,
            "idempotency_key": key.decode("utf-8", "replace") if key is not None else None,
            "identity": claim,
        }
        intake = hub.intake
        if any(e.blocking for e in hub.registry.enrichers):  # may wait: off the event loop
            item = await run_in_threadpool(lambda: intake.prepare(sub, **kwargs))
        else:
            item = intake.prepare(sub, **kwargs)
        accepted = intake.resolve(await intake.committer.submit_async(item))
        out = {"Location": f"{PATH}/{accepted.record_id}"}
        if accepted.replayed:
            out["Idempotent-Replayed"] = "true"
        return JSONResponse(
            {"id": accepted.record_id, "status": accepted.status}, status_code=202, headers=out
        )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPException(400, "the client disconnected before sending the body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
