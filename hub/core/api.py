"""The daemon's HTTP API (FastAPI). OpenAPI at ``/openapi.json``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub import __version__
from hub.core.attachments import AttachmentWithheld, UnknownAttachment
from hub.core.auth import may_act_for, require_client
from hub.core.config import ClientConfig
from hub.core.errors import IntakeRejected
from hub.core.hub import Hub
from hub.core.intake_http import IntakeEndpoint
from hub.core.problems import field_problems, from_rejection, problem
from hub.core.record import Channel, Record, RecordStatus, Submission
from hub.core.store.reads import ARS_FILTER, LEIKA_FILTER

log = structlog.get_logger("hub.api")


class Acknowledgement(BaseModel):
    id: str
    status: str


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes before they are read whole (413)."""

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...] = ()):
        self.app = app
        self.limit = limit
        self.exempt = exempt  # path prefixes whose routes stream and limit bodies themselves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and scope["path"].startswith(self.exempt)):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "Request body too large", f"the limit is {self.limit} bytes", kind="too-large"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def _cursor(at: datetime, rid: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{rid}".encode()).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, rid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), rid
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise IntakeRejected.one(
            "cursor", "format", "not a cursor returned by this API", status_code=400
        ) from None


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; ``errors`` names each field and rule broken",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "rule", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "rule": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
_PROBLEM_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
}
_ERRORS = {
    400: "Malformed request: a parameter or the body breaks a rule (field and rule named)",
    401: "No valid credential",
    403: "The credential may not do this (scope or municipality)",
    404: "No such resource, or not visible to this client",
    413: "Body too large",
    422: "Well-formed but refused (field and rule named)",
}


def _protected(route: Any) -> str | None:
    """``bearer`` when the route authenticates API clients through :func:`require_client`."""
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        if hasattr(dependant.call, "hub_bearer_scope"):
            return "bearer"
        stack.extend(dependant.dependencies)
    return None


def document_errors(spec: dict[str, Any], routes: list[Any]) -> None:
    """Make the description say what the API does, whoever registered the route:

    - request validation answers 400 problem+json (the hub's handler), not FastAPI's 422;
    - every error answer is ``application/problem+json`` with the ``Problem`` schema (a page
      for people may document ``text/html`` beside it);
    - ``/v1`` routes all take a credential (API client, device, callback token): 401 and 403;
      routes behind :func:`require_client` name the ``bearer`` security scheme;
    - routes with path parameters may answer 404, routes with a body 400 and 413.
    """
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["schemas"].pop("HTTPValidationError", None)
    components["schemas"].pop("ValidationError", None)
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API client's token (`hub token new`, [[clients]] in hub.toml)",
    }
    secured = {
        (path, method.lower())
        for route in routes
        if _protected(route)
        for path in [getattr(route, "path", "")]
        for method in getattr(route, "methods", ()) or ()
    }
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            fastapi_422 = responses.get("422", {})
            if "HTTPValidationError" in str(fastapi_422):
                del responses["422"]
            codes = {400}
            if path.startswith("/v1/"):
                codes |= {401, 403}
            if "{" in path:
                codes.add(404)
            if "requestBody" in operation or method in ("post", "put", "patch"):
                codes.add(413)
            for code in sorted(codes):
                responses.setdefault(str(code), {"description": _ERRORS[code]})
            for code, response in responses.items():
                if code[0] in "45":
                    # A page for people may answer an error as HTML too (documented so).
                    own = {
                        media: body
                        for media, body in response.get("content", {}).items()
                        if media.startswith("text/")
                    }
                    response["content"] = {**_PROBLEM_CONTENT, **own}
            if (path, method) in secured:
                operation.setdefault("security", [{"bearer": []}])


def _submit_operation() -> dict[str, Any]:
    problem_ref = _PROBLEM_CONTENT
    return {
        "summary": "Submit Record",
        "description": "Accept an application. The record is durable when this answers 202.",
        "operationId": "submit_record",
        "security": [{"bearer": []}],
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Submission"}}
            },
        },
        "responses": {
            "202": {
                "description": "Accepted and durable",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Acknowledgement"}}
                },
            },
            **{
                str(code): {"description": text, "content": problem_ref}
                for code, text in (
                    (400, "Malformed request"),
                    (401, "No valid token"),
                    (403, "Scope or municipality not allowed"),
                    (409, "Idempotency-Key reused"),
                    (413, "Body too large"),
                    (415, "Not JSON"),
                    (422, "Invalid submission"),
                )
            },
        },
    }


def mount_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` with its assets from the ``swagger-ui-bundle`` package, so the
    page works on a machine without internet (nothing is fetched from a CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from starlette.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="hub API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


def mount_console(app: FastAPI, hub: Hub) -> None:
    """The staff and ops console under /console — its own pages, the pages plugins add
    (``register_console_pages``) and its stylesheet; ``/`` leads there."""
    from fastapi.responses import RedirectResponse
    from starlette.staticfiles import StaticFiles

    from hub.core.console.pages import ConsoleForbidden, ConsoleRedirect
    from hub.core.console.routes import STATIC, Console, console_router

    console = Console(hub, hub.plugins.console_pages(hub))
    app.state.console = console
    app.include_router(console_router(console))
    for page in console.pages:
        app.include_router(page.router, prefix=f"/console{page.path}", include_in_schema=False)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.exception_handler(ConsoleRedirect)
    async def _sign_in(request: Request, exc: ConsoleRedirect) -> Response:
        return console.sign_in_first(request)

    @app.exception_handler(ConsoleForbidden)
    async def _forbidden(request: Request, exc: ConsoleForbidden) -> Response:
        import anyio

        session = await anyio.to_thread.run_sync(console.session_of, request)
        return console.render(request, "message.html", "forbidden", session, 403)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)


def create_app(hub: Hub) -> FastAPI:
    app = FastAPI(
        title="hub",
        version=__version__,
        description="Integration hub for municipal e-government: intake and status API",
        # Metrics go to /metrics (Prometheus); FastAPI's OpenTelemetry probe per request is
        # pure overhead on the intake path.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # FastAPI's own /docs and /redoc load their assets from a CDN: ours come from a package.
        docs_url=None,
        redoc_url=None,
    )
    mount_docs(app)
    app.state.hub = hub
    mount_console(app, hub)
    read = Depends(require_client("records:read"))
    admin = Depends(require_client("admin"))

    @app.exception_handler(IntakeRejected)
    async def _rejected(_: Request, exc: IntakeRejected) -> JSONResponse:
        return from_rejection(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return from_rejection(IntakeRejected(field_problems(exc.errors()), status_code=400))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            str(exc.detail),
            kind=f"http-{exc.status_code}",
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("request_failed", error=type(exc).__name__)
        return problem(500, "Internal error", "the error was logged", kind="internal")

    def _visible(client: ClientConfig, record_id: str) -> None:
        owner = hub.store.record_owner(record_id)
        if owner is None or not may_act_for(client, owner[1]):
            raise HTTPException(404, "no such record")

    @app.get("/v1/records/{record_id}", response_model=Record, responses={401: {}, 404: {}})
    def get_record(record_id: str, client: ClientConfig = read) -> Any:
        """The record with its status per adapter and its history."""
        _visible(client, record_id)
        return hub.store.get_record(record_id)

    @app.get("/v1/records/{record_id}/attachments", responses={401: {}, 404: {}})
    def list_attachments(record_id: str, client: ClientConfig = read) -> dict[str, Any]:
        """Documents added to the record after intake (e.g. the office's confirmation)."""
        _visible(client, record_id)
        return {"items": [a.model_dump() for a in hub.attachments.list(record_id)]}

    @app.get(
        "/v1/records/{record_id}/attachments/{attachment_id}",
        responses={403: {}, 404: {}, 410: {}},
    )
    def get_attachment(record_id: str, attachment_id: str, client: ClientConfig = read) -> Any:
        """The bytes of one attachment, with its media type and SHA-256 as ``Digest``."""
        _visible(client, record_id)
        try:
            meta, stream = hub.attachments.open(record_id, attachment_id, for_client=True)
        except UnknownAttachment:
            raise HTTPException(404, "no such attachment") from None
        except AttachmentWithheld:
            return problem(
                403,
                "Withheld",
                "this attachment's bytes are released only to the adapter that delivers them",
                kind="withheld",
            )
        except LookupError:
            return problem(410, "Gone", "the attachment's bytes were destroyed", kind="gone")

        def body() -> Iterator[bytes]:
            with stream:
                while chunk := stream.read(1 << 16):
                    yield chunk

        digest = base64.b64encode(bytes.fromhex(meta.sha256)).decode()
        return StreamingResponse(
            body(),
            media_type=meta.media_type,
            headers={
                "Content-Length": str(meta.size),
                "Repr-Digest": f"sha-256=:{digest}:",
            },
        )

    @app.get("/v1/records", responses={422: {}})
    def list_records(
        client: ClientConfig = read,
        status: RecordStatus | None = None,
        channel: Channel | None = None,
        leika: Annotated[str | None, Query(pattern=LEIKA_FILTER)] = None,
        ars: Annotated[str | None, Query(pattern=ARS_FILTER)] = None,
        adapter: Annotated[str | None, Query(max_length=64)] = None,
        since: Annotated[datetime | None, Query(alias="from")] = None,
        until: Annotated[datetime | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Records the client may see, newest first; pass ``next`` back as ``cursor``.
        Filters: status, channel, LeiKa key or prefix (``99115*``), ARS or prefix, adapter
        instance, and the time received (``from`` inclusive, ``to`` exclusive, RFC 3339)."""
        for name, value in (("from", since), ("to", until)):
            if value is not None and value.tzinfo is None:
                raise IntakeRejected.one(name, "timezone", "give the time with its offset")
        rows = hub.store.list_records(
            status=status.value if status else None,
            ars_patterns=client.municipalities,
            limit=limit,
            before=_parse_cursor(cursor) if cursor else None,
            channel=channel.value if channel else None,
            leika=leika,
            ars=ars,
            adapter=adapter,
            since=since,
            until=until,
        )
        nxt = _cursor(rows[-1].received_at, rows[-1].id) if len(rows) == limit else None
        return {"items": [r.as_dict() for r in rows], "next": nxt}

    @app.post("/v1/records/{record_id}/retry", status_code=202, responses={404: {}, 409: {}})
    def retry_record(record_id: str, client: ClientConfig = admin) -> dict[str, Any]:
        """Queue a record's dead-lettered deliveries again with fresh attempts."""
        _visible(client, record_id)
        retried = hub.retry(record_id)
        if not retried:
            raise HTTPException(409, "the record has no dead-lettered delivery")
        return {"id": record_id, "retried": retried}

    @app.get("/v1/statuses")
    def statuses(client: ClientConfig = read) -> dict[str, Any]:
        """Every status a record's history can show, with its meaning: the core's and each
        plugin's namespace (``meldebehoerde:registered``)."""
        return hub.registry.status_catalogue()

    @app.get("/v1/pollers")
    def pollers(client: ClientConfig = admin) -> dict[str, Any]:
        """The pollers this process runs: interval, last success, last error."""
        return {
            "items": [
                {
                    "name": p.name,
                    "interval": p.interval,
                    "last_success": p.last_success,
                    "last_error": p.last_error,
                    "failures_in_a_row": p.failures,
                }
                for p in hub.pollers
            ]
        }

    @app.get("/v1/dead-letters")
    def dead_letters(
        client: ClientConfig = admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> dict[str, Any]:
        return {"items": hub.store.dead_letters(limit, ars_patterns=client.municipalities)}

    @app.get("/livez", include_in_schema=False)
    def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        try:
            hub.store.ping()
        except Exception as exc:
            return problem(503, "Store unavailable", type(exc).__name__, kind="not-ready")
        if hub.dispatcher is not None and not hub.dispatcher.alive:
            return problem(503, "Delivery workers are not running", kind="not-ready")
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(hub.metrics.render(), media_type="text/plain; version=0.0.4")

    streaming: list[str] = []
    for router in hub.plugins.routers(hub):
        app.include_router(router)
        if getattr(router, "streams_request_bodies", False) and router.prefix:
            streaming.append(router.prefix)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            sub = Submission.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas["Acknowledgement"] = Acknowledgement.model_json_schema()
            for name, definition in sub.pop("$defs", {}).items():
                schemas.setdefault(name, definition)
            schemas["Submission"] = sub
            spec["paths"].setdefault("/v1/records", {})["post"] = _submit_operation()
            document_errors(spec, app.routes)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Outermost first: the size limit guards the intake fast path and everything behind it.
    app.add_middleware(IntakeEndpoint, hub=hub)
    app.add_middleware(BodyLimit, limit=hub.config.server.max_body_bytes, exempt=tuple(streaming))
    return app
