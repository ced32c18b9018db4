"""The BundID service provider: settings, login and ACS routes, sessions, identity claims."""

from __future__ import annotations

import contextlib
import html
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
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
from hub import Secret, problem
from hub_bundid import keys, messages
from hub_bundid.constants import OID_OF, RANK_OF_LEVEL, STORK
from hub_bundid.errors import MESSAGES, MESSAGES_DE, SamlError
from hub_bundid.ledger import Ledger
from hub_bundid.response import LoginResult, PendingRequest, validate_response

log = structlog.get_logger("hub.bundid")
# akdb:TrustLevel ranks by the names of the vocabulary the official example uses.
TRUST_NAMES = {1: "untergeordnet", 2: "normal", 3: "substantiell", 4: "hoch"}
COOKIE = "hub_bundid"
# Binds a login to the browser that started it (login CSRF): the request id and level, signed.
LOGIN_COOKIE = "hub_bundid_login"
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
    session_secret: Secret | None = Field(
        default=None, description="Signs the session cookies; at least 32 characters"
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
    legacy_algorithms: bool = Field(
        default=False,
        description="Also accept rsa-sha256 signatures and AES-CBC / RSA-OAEP-MGF1P encryption "
        "(BundID sends RSA-PSS and AES-GCM since 2024)",
    )
    metadata_refresh_seconds: float = Field(
        default=3600, gt=0, description="Re-read the IdP metadata this often (key rollover)"
    )
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
    login_binding: URLSafeTimedSerializer | None = None
    _idp: messages.IdpMetadata | None = None
    _loaded_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.settings.acs_url)
        return f"{parts.scheme}://{parts.netloc}"

    def idp(self, *, fresh: bool = False) -> messages.IdpMetadata:
        """BundID's metadata (file or URL), re-read every ``metadata_refresh_seconds`` so a key
        rollover needs no restart; its certificates are pinned from it. A failed re-read keeps
        the metadata it had (and tries again a minute later); with none, :class:`SamlError`."""
        with self._lock:
            now = time.monotonic()
            due = now - self._loaded_at >= self.settings.metadata_refresh_seconds
            if self._idp is None or due or fresh:
                try:
                    self._idp = load_idp_metadata(self.settings.idp_metadata, self.http)
                    self._loaded_at = now
                except SamlError as exc:
                    if self._idp is None or fresh:
                        raise
                    log.warning("bundid_metadata_refresh_failed", reason=exc.code)
                    self._loaded_at = now - self.settings.metadata_refresh_seconds + 60
            return self._idp


def load_idp_metadata(source: str, http: httpx.Client) -> messages.IdpMetadata:
    """Read and check BundID's metadata; every failure is a :class:`SamlError` naming it."""
    if source.startswith(("http://", "https://")):
        try:
            response = http.get(source, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise SamlError(
                "metadata_unavailable", f"BundID metadata could not be loaded: {exc}"
            ) from exc
        data = response.content
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise SamlError(
                "metadata_unavailable", f"BundID metadata file {source}: {exc.strerror}"
            ) from None
    return messages.read_idp_metadata(data)


def metadata_over_http(source: str) -> bool:
    """An ``http://`` metadata URL off this machine: anyone on the way could swap the keys."""
    parts = urlsplit(source)
    return parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1")


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
            secret = settings.session_secret.reveal("plugins.bundid.session_secret")
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
        secret = settings.session_secret.reveal("plugins.bundid.session_secret")
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
        URLSafeTimedSerializer(secret, salt="bundid-login"),
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
        "identity": {
            "method": "bundid",
            "trust_level": result.level,
            "bpk2": result.bpk2,
            # Where answers may go (the BundID mailbox) and the status monitor's Antrags-ID.
            "mailbox_uuid": _uuid(a.get("legacyPostkorbHandle")),
            "application_id": _uuid(a.get("applicationId")),
        },
        "stork_level": STORK[result.rank],
        "login_method": result.method,
        "attributes": {
            k: {"value": v.value, "trust_level": TRUST_NAMES.get(v.trust_rank)}
            for k, v in result.attributes.items()
        },
        "applicant": {k: v for k, v in applicant.items() if v is not None},
    }


def _uuid(value: str | None) -> str | None:
    """A UUID attribute as given, or None when absent or not a UUID."""
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None


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
                method="bundid",
                trust_level=ident["trust_level"],
                bpk2=ident.get("bpk2"),
                mailbox_uuid=ident.get("mailbox_uuid"),
                application_id=ident.get("application_id"),
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


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    """A plain German page for people (no scripts, no external assets)."""
    return HTMLResponse(
        f"<!doctype html><html lang=de><head><meta charset=utf-8>"
        f'<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
        f"{body}</main></body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _failure(request: Request, error: SamlError, status: int = 400) -> Response:
    log.info("bundid_login_refused", reason=error.code)
    if _wants_html(request):
        text = MESSAGES_DE.get(error.code, MESSAGES_DE["default"])
        return page(
            "Anmeldung nicht möglich",
            f"<p>{html.escape(text)}</p>"
            '<p><a href="/bundid/login">Erneut anmelden</a> · <a href="/">Zur Startseite</a></p>'
            f"<p><small>Fehlercode für den Support: {html.escape(error.code)}</small></p>",
            status=status,
        )
    text = MESSAGES.get(error.code, error.message)
    return problem(status, "BundID login refused", text, kind=f"bundid-{error.code}")


_LEVEL_DE = {"basis": "niedrig (basis)", "substantiell": "substanziell", "hoch": "hoch"}


def _session_page(data: dict[str, Any]) -> HTMLResponse:
    applicant = data.get("applicant") or {}
    name = " ".join(filter(None, (applicant.get("given_names"), applicant.get("family_name"))))
    level = data["identity"]["trust_level"]
    rows = [
        ("Name", name or "nicht übermittelt"),
        ("Vertrauensniveau", _LEVEL_DE.get(level, level)),
        ("Anmeldeverfahren", data.get("login_method") or "unbekannt"),
        ("Angemeldet bis", data.get("session", {}).get("expires_at", "")[:16].replace("T", " ")),
    ]
    table = "".join(
        f"<tr><th scope=row>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return page(
        "Sie sind mit der BundID angemeldet",
        f"<table>{table}</table>"
        '<form method=post action="/bundid/logout"><button type=submit>Abmelden</button></form>',
    )


def _login_started(st: SpState, request: Request) -> PendingRequest:
    """The login this browser started (its signed cookie), or ``login_not_started``."""
    assert st.login_binding is not None
    try:
        started, signed_at = st.login_binding.loads(
            request.cookies.get(LOGIN_COOKIE, ""),
            max_age=st.settings.request_ttl_seconds,
            return_timestamp=True,
        )
    except (BadSignature, SignatureExpired):
        raise SamlError(
            "login_not_started", "this browser did not start the login, or too long ago"
        ) from None
    expires = signed_at.replace(tzinfo=UTC) + timedelta(seconds=st.settings.request_ttl_seconds)
    return PendingRequest(started["r"], started["m"], expires)


_HTML = {"text/html": {"schema": {"type": "string"}}}
_JSON = {"application/json": {"schema": {"type": "object"}}}
SESSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A page for people, JSON for clients", "content": {**_HTML, **_JSON}},
    401: {"description": "No session (a page for people)", "content": _HTML},
}
LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "An auto-submitting form to BundID (HTTP-POST binding)", "content": _HTML},
    303: {"description": "To BundID (HTTP-Redirect binding) or, after login, to next"},
    400: {"description": "The login was refused (a German page for people)", "content": _HTML},
    403: {"description": "The trust level is too low for the service", "content": _HTML},
    503: {"description": "BundID's metadata is not available", "content": _HTML},
}


def router(get_state: Any) -> APIRouter:
    r = APIRouter(prefix="/bundid", tags=["bundid"])

    @r.get("/metadata", response_class=Response)
    def metadata() -> Response:
        st = get_state()
        body = messages.sp_metadata(
            st.settings.entity_id, st.settings.acs_url, st.signing, st.encryption
        )
        return Response(body, media_type="application/samlmetadata+xml")

    @r.get("/login", response_class=HTMLResponse, responses=LOGIN_RESPONSES)
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
        # Nothing is stored for a login that was only started: the request id and level travel
        # in a signed cookie of this browser, which the ACS requires (no login CSRF, and
        # anonymous requests cannot fill the database).
        relay = st.relay.dumps({"n": _safe_next(next), "r": spec.request_id})
        request_xml = messages.build_authn_request(spec)
        response: Response
        if use == "redirect":
            query = messages.redirect_query(request_xml, relay, st.signing)
            response = RedirectResponse(f"{sso}?{query}", status_code=303)
        else:
            response = _auto_post(
                sso,
                {
                    "SAMLRequest": messages.post_form_value(request_xml, st.signing),
                    "RelayState": relay,
                },
                "Weiter zur BundID",
            )
        secure = s.acs_url.startswith("https://")
        assert st.login_binding is not None
        response.set_cookie(
            LOGIN_COOKIE,
            st.login_binding.dumps({"r": spec.request_id, "m": min_rank}),
            max_age=int(s.request_ttl_seconds),
            path="/bundid",
            httponly=True,
            secure=secure,
            # The IdP posts back cross-site: over https the cookie must travel with that POST.
            samesite="none" if secure else "lax",
        )
        return response

    @r.post("/acs", response_class=HTMLResponse, responses=LOGIN_RESPONSES)
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
            started = _login_started(st, request)
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
                lookup_request=lambda rid: started if rid == started.request_id else None,
                assertion_seen=st.ledger.assertion_seen,
                skew=timedelta(seconds=s.clock_skew_seconds),
                max_bytes=s.max_response_bytes,
                legacy_algorithms=s.legacy_algorithms,
            )
            if relay.get("r") != result.request_id:
                raise SamlError("relay_state_invalid", "RelayState belongs to another request")
            sid = st.ledger.complete_login(
                result, session_data(result), request_expires=started.expires_at
            )
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
        response.delete_cookie(LOGIN_COOKIE, path="/bundid")
        return response

    @r.get("/me", responses=SESSION_RESPONSES)
    def me(request: Request) -> Response:
        """The current BundID session: for people a plain page with a logout button; for
        clients (``Accept: application/json``) identity, trust level, login method and
        attribute levels as JSON."""
        data = current_session(get_state(), request)
        if data is None:
            if _wants_html(request):
                return page(
                    "Nicht angemeldet",
                    "<p>Sie sind nicht mit der BundID angemeldet.</p>"
                    '<p><a href="/bundid/login">Mit der BundID anmelden</a></p>',
                    status=401,
                )
            return problem(
                401, "No BundID session", "log in at /bundid/login", kind="bundid-no-session"
            )
        if _wants_html(request):
            return _session_page(data)
        return JSONResponse(data, headers={"Cache-Control": "no-store"})

    @r.post("/logout", responses={200: SESSION_RESPONSES[200]})
    def logout(request: Request) -> Response:
        """End the session (the button on /bundid/me)."""
        st = get_state()
        raw = request.cookies.get(COOKIE)
        if raw:
            with contextlib.suppress(BadSignature):
                st.ledger.end_session(st.cookie_signer.unsign(raw).decode())
        response: Response
        if _wants_html(request):
            response = page(
                "Sie sind abgemeldet",
                "<p>Ihre BundID-Sitzung bei uns ist beendet.</p>"
                '<p><a href="/bundid/login">Erneut anmelden</a></p>',
            )
        else:
            response = JSONResponse({"status": "logged out"})
        response.delete_cookie(COOKIE, path="/")
        return response

    return r
