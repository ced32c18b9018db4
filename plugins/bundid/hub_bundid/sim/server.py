"""A BundID-like IdP on loopback, for local development and the tests.

``GET /idp`` serves metadata at the entityID URL (an ``EntitiesDescriptor``, like the real one);
``/idp/profile/SAML2/{POST,Redirect}/SSO`` take AuthnRequests and apply the real IdP's checks
(unsigned request, missing or V1 extension, empty or nameless RequestedAttributes, missing
OrganizationDisplayName, no login method) with its error codes. A persona picker page lets a
person choose who logs in; with ``auto_persona`` the answer comes at once (tests).
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from hub import BackgroundServer
from hub_bundid import keys, messages
from hub_bundid.errors import SamlError
from hub_bundid.messages import ParsedRequest, RequestCheckFailed
from hub_bundid.sim.idp import PERSONAS, Crypto, ResponseSpec, build_error_response, build_response


@dataclass
class SimulatorConfig:
    base_url: str = "http://127.0.0.1:8089"
    sp_metadata: str | None = None  # URL or file of the SP's metadata (its certificates, ACS)
    sp_certs: list[bytes] = field(default_factory=list)  # or given directly
    sp_encryption_cert: bytes | None = None
    keys_dir: Path | None = None
    auto_persona: str | None = None
    legacy: bool = False

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/idp"


class Simulator:
    def __init__(self, config: SimulatorConfig, http: httpx.Client | None = None):
        self.config = config
        if config.keys_dir is not None:
            self.signing = keys.ensure(config.keys_dir, "idp-signing", config.entity_id)
            self.encryption = keys.ensure(config.keys_dir, "idp-encryption", config.entity_id)
        else:
            self.signing = keys.generate(config.entity_id, bits=2048)
            self.encryption = keys.generate(config.entity_id, bits=2048)
        self.http = http or httpx.Client(timeout=10)
        self.crypto = Crypto.legacy() if config.legacy else Crypto()
        self._pending: dict[str, tuple[ParsedRequest, str, str]] = {}
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/idp", self.metadata),
                Route("/idp/profile/SAML2/POST/SSO", self.sso_post, methods=["POST"]),
                Route("/idp/profile/SAML2/Redirect/SSO", self.sso_redirect, methods=["GET"]),
                Route("/idp/simulator/respond", self.respond, methods=["POST"]),
            ]
        )

    # --- SP knowledge -----------------------------------------------------------------------

    def _sp(self) -> tuple[list[bytes], bytes]:
        if self.config.sp_certs and self.config.sp_encryption_cert:
            return self.config.sp_certs, self.config.sp_encryption_cert
        source = self.config.sp_metadata
        if not source:
            raise SamlError("sp_unknown", "the simulator knows no service provider")
        data = (
            self.http.get(source).content
            if source.startswith(("http://", "https://"))
            else Path(source).read_bytes()
        )
        from hub_bundid.constants import NS
        from hub_bundid.xmlutil import parse, text_of

        root = parse(data, what="SP metadata")
        signing = [
            keys.cert_pem_from_b64(text_of(c))
            for kd in root.iterfind(".//md:KeyDescriptor[@use='signing']", NS)
            for c in kd.iterfind(".//ds:X509Certificate", NS)
        ]
        enc = [
            keys.cert_pem_from_b64(text_of(c))
            for kd in root.iterfind(".//md:KeyDescriptor[@use='encryption']", NS)
            for c in kd.iterfind(".//ds:X509Certificate", NS)
        ]
        if not signing or not enc:
            raise SamlError("sp_unknown", "the SP metadata lacks signing or encryption keys")
        return signing, enc[0]

    # --- endpoints ----------------------------------------------------------------------------

    async def metadata(self, request: Request) -> Response:
        body = messages.idp_metadata(
            self.config.entity_id, self.config.base_url, self.signing, self.encryption
        )
        return Response(body, media_type="application/samlmetadata+xml")

    async def sso_post(self, request: Request) -> Response:
        form = await request.form()
        relay = str(form.get("RelayState") or "")
        return self._handle(
            lambda certs: messages.read_post_request(str(form.get("SAMLRequest") or ""), certs),
            relay,
        )

    async def sso_redirect(self, request: Request) -> Response:
        relay = request.query_params.get("RelayState", "")
        raw_query = request.url.query
        return self._handle(lambda certs: messages.read_redirect_request(raw_query, certs), relay)

    def _handle(self, read: Any, relay: str) -> Response:
        try:
            certs, _ = self._sp()
            parsed = read(certs)
        except RequestCheckFailed as exc:
            if exc.as_response and exc.parsed is not None and exc.parsed.acs_url:
                return self._error(
                    exc.parsed,
                    relay,
                    "request_denied",
                    message=exc.code,
                    detail={
                        "version": "1.0",
                        "errors": [
                            {"code": exc.code.upper().replace("-", "_"), "message": exc.code}
                        ],
                    },
                )
            return self._error_page(exc.code)
        except SamlError as exc:
            return self._error_page(exc.code)
        if self.config.auto_persona:
            return self._answer(parsed, relay, self.config.auto_persona)
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[token] = (parsed, relay, "")
        return self._picker(token, parsed)

    async def respond(self, request: Request) -> Response:
        form = await request.form()
        with self._lock:
            pending = self._pending.pop(str(form.get("pending") or ""), None)
        if pending is None:
            return self._error_page("unknown-login")
        parsed, relay, _ = pending
        return self._answer(parsed, relay, str(form.get("persona") or ""))

    # --- answers ------------------------------------------------------------------------------

    def _answer(self, parsed: ParsedRequest, relay: str, persona_key: str) -> Response:
        persona = PERSONAS.get(persona_key)
        if persona is None:
            return self._error_page("unknown-persona")
        if persona.error == "cancel":
            return self._error(
                parsed, relay, "cancel", message="Authentication was canceled by the user."
            )
        if persona.error == "required_missing" or (
            persona.rank
            and any(a.required and a.name not in _oids(persona) for a in parsed.attributes)
        ):
            missing = [
                a.name for a in parsed.attributes if a.required and a.name not in _oids(persona)
            ] or ["urn:oid:1.3.6.1.4.1.25484.494450.3"]
            return self._error(
                parsed,
                relay,
                "required_missing",
                message="security-msg",
                detail={
                    "version": "1.0",
                    "errors": [
                        {
                            "code": "IDP_REQUIRED_ATTRIBUTES_MISSING",
                            "message": f"Attribute {missing[0]} is required but not "
                            "available in Nutzerkonto.",
                        }
                    ],
                }
                if parsed.enable_status_detail
                else None,
            )
        if persona.error == "no_authn_context" or persona.rank < parsed.min_rank:
            return self._error(parsed, relay, "no_authn_context")
        _, enc = self._sp()
        spec = ResponseSpec(
            self.config.entity_id,
            parsed.issuer,
            parsed.acs_url,
            parsed.request_id,
            persona,
            [a.name for a in parsed.attributes],
        )
        response = build_response(spec, self.signing, enc, self.crypto)
        return self._post_back(parsed.acs_url, response, relay)

    def _error(
        self,
        parsed: ParsedRequest,
        relay: str,
        code: str,
        *,
        message: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Response:
        spec = ResponseSpec(
            self.config.entity_id,
            parsed.issuer,
            parsed.acs_url,
            parsed.request_id,
            PERSONAS["cancel"],
            [],
        )
        response = build_error_response(
            spec,
            self.signing,
            code,
            message=message,
            detail=detail,
            algorithm=self.crypto.signature,
        )
        return self._post_back(parsed.acs_url, response, relay)

    @staticmethod
    def _post_back(acs: str, response: Any, relay: str) -> HTMLResponse:
        value = base64.b64encode(etree.tostring(response)).decode()
        return HTMLResponse(
            "<!doctype html><html lang=de><head><meta charset=utf-8><title>BundID-Simulator"
            '</title></head><body onload="document.forms[0].submit()">'
            f'<form method=post action="{html.escape(acs)}">'
            f'<input type=hidden name=SAMLResponse value="{value}">'
            f'<input type=hidden name=RelayState value="{html.escape(relay)}">'
            "<noscript><button type=submit>Weiter</button></noscript></form></body></html>"
        )

    @staticmethod
    def _error_page(code: str) -> HTMLResponse:
        return HTMLResponse(
            f"<!doctype html><html lang=de><head><meta charset=utf-8><title>Fehler</title></head>"
            f"<body><h1>BundID-Simulator: Anfrage abgelehnt</h1>"
            f'<p id="idp-code">{html.escape(code)}</p></body></html>',
            status_code=400,
            headers={"X-IdP-Code": code},
        )

    def _picker(self, token: str, parsed: ParsedRequest) -> HTMLResponse:
        buttons = "".join(
            f'<p><button name=persona value="{k}">{html.escape(p.label)}</button></p>'
            for k, p in PERSONAS.items()
        )
        org = html.escape(parsed.organization_display_name or "")
        return HTMLResponse(
            "<!doctype html><html lang=de><head><meta charset=utf-8><title>BundID-Simulator"
            f"</title></head><body><h1>BundID-Simulator</h1><p>Anmeldung für <b>{org}</b> "
            f"(mindestens STORK-QAA-Level-{parsed.min_rank})</p>"
            f'<form method=post action="/idp/simulator/respond">'
            f'<input type=hidden name=pending value="{token}">{buttons}</form></body></html>'
        )


def _oids(persona: Any) -> set[str]:
    from hub_bundid.constants import OID_OF

    return {OID_OF[k] for k in persona.values if k in OID_OF}


class SimulatorServer(BackgroundServer):
    """The simulator served by uvicorn in a background thread (hub serve, tests)."""

    def __init__(self, simulator: Simulator, host: str, port: int):
        self.simulator = simulator
        super().__init__(simulator.app, host, port, name="bundid-simulator")
