"""The BundID service provider: settings, login and ACS routes, sessions, identity claims."""

from __future__ import annotations

import contextlib
import html
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, field_validator

import hub
from hub.core.config import resolve_secret
from hub.core.problems import problem
from hub_bundid import keys, messages
from hub_bundid.constants import OID_OF, RANK_OF_LEVEL, STORK
from hub_bundid.errors import MESSAGES, SamlError
from hub_bundid.ledger import Ledger
from hub_bundid.response import LoginResult, validate_response

log = structlog.get_logger("hub.bundid")
# akdb:TrustLevel ranks by the names of the vocabulary the official example uses.
TRUST_NAMES = {1: "untergeordnet", 2: "normal", 3: "substantiell", 4: "hoch"}
COOKIE = "hub_bundid"
Level = Literal["basis", "substantiell", "hoch"]

DEFAULT_ATTRIBUTES = [
    ("bPK2", True),
    ("givenName", False),
    ("surname", False),
    ("birthName", False),
    ("birthdate", False),
    ("placeOfBirth", False),
    ("postalAddress", False),
    ("postalCode", False),
    ("localityName", False),
    ("country", False),
    ("nationality", False),
    ("mail", False),
    ("telephoneNumber", False),
    ("AssertionProvedBy", False),
    ("EID-CITIZEN-QAA-LEVEL", False),
]


class AttributeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="URN (urn:oid:…) or the attribute's friendly name")
    required: bool = False

    @property
    def oid(self) -> str:
        return self.name if self.name.startswith("urn:oid:") else OID_OF[self.name]


class BundIdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity_id: str = Field(description="https URL without port; fixed once (it keys the bPK2)")
    acs_url: str
    organization_display_name: str = Field(min_length=1, max_length=50)
    online_service_id: str | None = Field(default=None, pattern=r"^BMI-[AB][0-9]{4,8}$")
    idp_metadata: str = Field(description="File path or URL of BundID's metadata")
    signing_key: str | None = None
    signing_cert: str | None = None
    encryption_key: str | None = None
    encryption_cert: str | None = None
    keys_dir: str | None = Field(default=None, description="Development: generate keys here")
    session_secret: str | dict[str, str] | None = Field(
        default=None, description="env:NAME or file:PATH"
    )
    requested_attributes: list[AttributeRequest] = Field(
        default_factory=lambda: [
            AttributeRequest(name=n, required=r) for n, r in DEFAULT_ATTRIBUTES
        ]
    )
    auth_methods: list[str] = Field(
        default_factory=lambda: ["eID", "Elster", "Benutzername", "eIDAS"]
    )
    lang: Literal["de", "en", "ru", "uk"] = "de"
    back_url: str | None = None
    default_level: Level = "basis"
    min_levels: dict[str, Level] = Field(
        default_factory=dict, description="LeiKa key glob → minimum trust level"
    )
    binding: Literal["post", "redirect"] = "post"
    clock_skew_seconds: float = Field(default=60, ge=0, le=600)
    max_response_bytes: int = Field(default=256 * 1024, ge=4096)
    request_ttl_seconds: float = Field(default=900, gt=0)
    simulator: dict[str, Any] | None = Field(
        default=None, description="Development: run the BundID simulator inside the hub"
    )

    @field_validator("entity_id")
    @classmethod
    def _entity(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme != "https" or not parts.hostname or parts.port is not None:
            raise ValueError("entity_id must be an https URL without a port (it keys the bPK2)")
        return v

    def level_for(self, leika_key: str | None) -> str:
        if leika_key:
            matches = [
                (len(p), lvl) for p, lvl in self.min_levels.items() if fnmatchcase(leika_key, p)
            ]
            if matches:
                return max(matches)[1]
        return self.default_level


@dataclass
class SpState:
    settings: BundIdSettings
    signing: keys.KeyPair
    encryption: keys.KeyPair
    ledger: Ledger
    relay: URLSafeTimedSerializer
    cookie_signer: TimestampSigner
    http: httpx.Client
    _idp: messages.IdpMetadata | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.settings.acs_url)
        return f"{parts.scheme}://{parts.netloc}"

    def idp(self) -> messages.IdpMetadata:
        """BundID's metadata, loaded once (file or URL); its certificate is pinned from it."""
        with self._lock:
            if self._idp is None:
                source = self.settings.idp_metadata
                if source.startswith(("http://", "https://")):
                    try:
                        response = self.http.get(source, timeout=10)
                        response.raise_for_status()
                    except httpx.HTTPError as exc:
                        raise SamlError(
                            "metadata_unavailable", f"BundID metadata could not be loaded: {exc}"
                        ) from exc
                    data = response.content
                else:
                    data = Path(source).read_bytes()
                self._idp = messages.read_idp_metadata(data)
            return self._idp


def build_state(h: Any, settings: BundIdSettings) -> SpState:
    if settings.keys_dir:
        d = Path(settings.keys_dir)
        signing = keys.ensure(d, "sp-signing", settings.entity_id)
        encryption = keys.ensure(d, "sp-encryption", settings.entity_id)
        secret_file = d / "session.secret"
        if settings.session_secret is None:
            if not secret_file.exists():
                import secrets

                secret_file.write_text(secrets.token_urlsafe(48))
                secret_file.chmod(0o600)
            secret = secret_file.read_text().strip()
        else:
            secret = resolve_secret(settings.session_secret, "plugins.bundid.session_secret")
    else:
        missing = [
            k
            for k in (
                "signing_key",
                "signing_cert",
                "encryption_key",
                "encryption_cert",
                "session_secret",
            )
            if getattr(settings, k) is None
        ]
        if missing:
            raise hub.ConfigurationError(
                f"[plugins.bundid] needs {', '.join(missing)} (or keys_dir for development)"
            )
        signing = keys.load(settings.signing_key, settings.signing_cert, "signing key")
        encryption = keys.load(settings.encryption_key, settings.encryption_cert, "encryption key")
        secret = resolve_secret(settings.session_secret, "plugins.bundid.session_secret")
    if len(secret) < 32:
        raise hub.ConfigurationError("[plugins.bundid] session_secret: use at least 32 characters")
    for attr in settings.requested_attributes:
        try:
            _ = attr.oid
        except KeyError:
            raise hub.ConfigurationError(f"unknown BundID attribute {attr.name!r}") from None
    return SpState(
        settings,
        signing,
        encryption,
        Ledger(h.store),
        URLSafeTimedSerializer(secret, salt="bundid-relay"),
        TimestampSigner(secret, salt="bundid-session"),
        h.http,
    )


# --- mapping a login to the hub's applicant ---------------------------------------------------


def _nationality(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().upper()
    return "DEU" if value == "D" else value if 2 <= len(value) <= 3 and value.isalpha() else None


def session_data(result: LoginResult) -> dict[str, Any]:
    a = {k: v.value for k, v in result.attributes.items()}
    birth = a.get("birthdate")
    try:
        birthdate = date.fromisoformat(birth).isoformat() if birth else None
    except ValueError:
        birthdate = None  # e.g. "nicht zutreffend" from an unverified account
    country = a.get("country")
    applicant = {
        "given_names": a.get("givenName"),
        "family_name": a.get("surname"),
        "birth_name": a.get("birthName"),
        "date_of_birth": birthdate,
        "place_of_birth": a.get("placeOfBirth"),
        "address": {
            "street": a.get("postalAddress"),
            "postal_code": a.get("postalCode"),
            "city": a.get("localityName"),
            "country": "DE" if country == "D" else country,
        }
        if any(a.get(k) for k in ("postalAddress", "postalCode", "localityName"))
        else None,
        "nationality": _nationality(a.get("nationality")),
        "email": a.get("mail"),
        "phone": a.get("telephoneNumber"),
    }
    return {
        "identity": {"method": "bundid", "trust_level": result.level, "bpk2": result.bpk2},
        "stork_level": STORK[result.rank],
        "login_method": result.method,
        "attributes": {
            k: {"value": v.value, "trust_level": TRUST_NAMES.get(v.trust_rank)}
            for k, v in result.attributes.items()
        },
        "applicant": {k: v for k, v in applicant.items() if v is not None},
    }


class BundIdIdentity:
    """Identity provider for the hub's intake: the citizen's BundID session, if any."""

    def __init__(self, get_state: Any):
        self._state = get_state

    def identify(self, request: Any) -> hub.IdentityClaim | None:
        st = self._state()
        if st is None:
            return None
        data = current_session(st, request)
        if data is None:
            return None
        ident = data["identity"]
        return hub.IdentityClaim(
            identity=hub.Identity(
                method="bundid", trust_level=ident["trust_level"], bpk2=ident.get("bpk2")
            ),
            applicant=data["applicant"],
        )


def current_session(st: SpState, request: Any) -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        sid = st.cookie_signer.unsign(raw, max_age=12 * 3600).decode()
    except (BadSignature, SignatureExpired):
        return None
    return st.ledger.session(sid)


# --- routes ------------------------------------------------------------------------------------


def _safe_next(value: str | None) -> str:
    """Only paths on our own origin: no scheme, no host, no protocol-relative //."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/bundid/me"
    return value


def _auto_post(action: str, fields: dict[str, str], title: str) -> HTMLResponse:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return HTMLResponse(
        f"<!doctype html><html lang=de><head><meta charset=utf-8><title>{html.escape(title)}"
        f'</title></head><body onload="document.forms[0].submit()"><form method=post '
        f'action="{html.escape(action)}">{inputs}<noscript><button type=submit>Weiter'
        f"</button></noscript></form></body></html>",
        headers={"Cache-Control": "no-store"},
    )


def _failure(request: Request, error: SamlError, status: int = 400) -> Response:
    text = MESSAGES.get(error.code, error.message)
    log.info("bundid_login_refused", reason=error.code)
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(
            f"<!doctype html><html lang=de><head><meta charset=utf-8><title>Anmeldung nicht "
            f"möglich</title></head><body><h1>Anmeldung nicht möglich</h1><p>{html.escape(text)}"
            f"</p><p><small>Grund: {html.escape(error.code)}</small></p></body></html>",
            status_code=status,
        )
    return problem(status, "BundID login refused", text, kind=f"bundid-{error.code}")


def router(get_state: Any) -> APIRouter:
    r = APIRouter(prefix="/bundid", tags=["bundid"])

    @r.get("/metadata", response_class=Response)
    def metadata() -> Response:
        st = get_state()
        body = messages.sp_metadata(
            st.settings.entity_id, st.settings.acs_url, st.signing, st.encryption
        )
        return Response(body, media_type="application/samlmetadata+xml")

    @r.get("/login")
    def login(
        request: Request,
        next: str | None = None,
        service: str | None = None,
        binding: Literal["post", "redirect"] | None = None,
    ) -> Response:
        """Start a BundID login; ``service`` (LeiKa key) sets the trust level requested."""
        st = get_state()
        s = st.settings
        try:
            idp = st.idp()
        except SamlError as exc:
            return _failure(request, exc, 503)
        use = binding or s.binding
        sso = idp.sso_post if use == "post" else idp.sso_redirect
        if not sso:
            return _failure(
                request, SamlError("binding_unsupported", f"BundID offers no {use} endpoint"), 503
            )
        min_rank = RANK_OF_LEVEL[s.level_for(service)]
        spec = messages.AuthnRequestSpec(
            s.entity_id,
            s.acs_url,
            sso,
            min_rank,
            [messages.RequestedAttribute(a.oid, a.required) for a in s.requested_attributes],
            s.auth_methods,
            s.organization_display_name,
            s.online_service_id,
            s.lang,
            s.back_url,
        )
        st.ledger.remember_request(spec.request_id, min_rank, s.request_ttl_seconds)
        relay = st.relay.dumps({"n": _safe_next(next), "r": spec.request_id})
        request_xml = messages.build_authn_request(spec)
        if use == "redirect":
            query = messages.redirect_query(request_xml, relay, st.signing)
            return RedirectResponse(f"{sso}?{query}", status_code=303)
        return _auto_post(
            sso,
            {"SAMLRequest": messages.post_form_value(request_xml, st.signing), "RelayState": relay},
            "Weiter zur BundID",
        )

    @r.post("/acs")
    async def acs(request: Request) -> Response:
        """Assertion Consumer Service (HTTP-POST)."""
        st = get_state()
        s = st.settings
        form = await request.form(max_part_size=s.max_response_bytes * 2)
        raw = str(form.get("SAMLResponse") or "")
        relay_raw = str(form.get("RelayState") or "")
        try:
            if not raw:
                raise SamlError("malformed_response", "SAMLResponse is missing")
            try:
                relay = st.relay.loads(relay_raw, max_age=s.request_ttl_seconds)
            except (BadSignature, SignatureExpired):
                raise SamlError(
                    "relay_state_invalid", "RelayState was altered or is too old"
                ) from None
            result = validate_response(
                raw,
                sp_entity_id=s.entity_id,
                acs_url=s.acs_url,
                encryption=st.encryption,
                idp=st.idp(),
                lookup_request=st.ledger.pending,
                assertion_seen=st.ledger.assertion_seen,
                skew=timedelta(seconds=s.clock_skew_seconds),
                max_bytes=s.max_response_bytes,
            )
            if relay.get("r") != result.request_id:
                raise SamlError("relay_state_invalid", "RelayState belongs to another request")
            sid = st.ledger.complete_login(result, session_data(result))
        except SamlError as exc:
            return _failure(request, exc, 403 if exc.code == "trust_level_too_low" else 400)
        log.info("bundid_login", trust_level=result.level, method=result.method)
        response = RedirectResponse(_safe_next(relay.get("n")), status_code=303)
        response.set_cookie(
            COOKIE,
            st.cookie_signer.sign(sid).decode(),
            httponly=True,
            secure=s.acs_url.startswith("https://"),
            samesite="lax",
            path="/",
        )
        return response

    @r.get("/me")
    def me(request: Request) -> Response:
        """The current BundID session: identity, trust level, login method, attribute levels."""
        data = current_session(get_state(), request)
        if data is None:
            return problem(
                401, "No BundID session", "log in at /bundid/login", kind="bundid-no-session"
            )
        return JSONResponse(data, headers={"Cache-Control": "no-store"})

    @r.post("/logout")
    def logout(request: Request) -> Response:
        st = get_state()
        raw = request.cookies.get(COOKIE)
        if raw:
            with contextlib.suppress(BadSignature):
                st.ledger.end_session(st.cookie_signer.unsign(raw).decode())
        response = JSONResponse({"status": "logged out"})
        response.delete_cookie(COOKIE, path="/")
        return response

    return r
