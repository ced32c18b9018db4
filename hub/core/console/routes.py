"""The console's pages: sign-in, overview, records with filters, a record's timeline, dead
letters with single and bulk retry, health, and the audit trail.

Plain HTML forms, rendered on the server; no script, so the Content-Security-Policy allows
none. A person acts as the API client their roles and municipalities make them
(:meth:`hub.core.staff.Staff.as_client`): the same scopes, the same store queries, the same
scoping. Every form that changes something carries the session's CSRF token; every change is
in the audit trail.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.core.auth import may_act_for
from hub.core.console.i18n import LANGUAGES, translate
from hub.core.console.oidc import OidcLogin, OidcRefused
from hub.core.console.pages import (
    ConsoleForbidden,
    ConsolePage,
    ConsoleRedirect,
    ConsoleView,
    token_ok,
)
from hub.core.errors import FieldProblem
from hub.core.record import Channel, RecordStatus
from hub.core.staff import Session, StaffStore
from hub.core.store.reads import ARS_FILTER, LEIKA_FILTER

HERE = Path(__file__).parent
STATIC = HERE / "static"
BERLIN = ZoneInfo("Europe/Berlin")
COOKIE, LOGIN_COOKIE, LANG_COOKIE = "hub_console", "hub_console_login", "hub_lang"
OIDC_COOKIE = "hub_console_oidc"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_ARS = re.compile(ARS_FILTER)
_LEIKA = re.compile(LEIKA_FILTER)
_NEXT = re.compile(r"^/console/[A-Za-z0-9/_\-?=&.%]*$")


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M:%S")


class Console:
    """The console's machinery, shared by its own pages and the pages plugins add: templates,
    language, sessions, the layout, the audit trail."""

    def __init__(self, hub: Any, pages: list[ConsolePage]):
        self.hub = hub
        self.pages = pages
        self.staff_store = StaffStore(hub.store)
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _when
        self.oidc: OidcLogin | None = None
        if hub.config.console.oidc is not None:
            self.oidc = OidcLogin(
                hub.config.console.oidc, hub.http_client(timeout=hub.config.console.oidc.timeout)
            )

    def language(self, request: Request) -> str:
        asked = request.query_params.get("lang")
        if asked in LANGUAGES:
            return asked
        kept = request.cookies.get(LANG_COOKIE)
        return kept if kept in LANGUAGES else "de"

    def render(
        self,
        request: Request,
        template: str,
        title_key: str | None,
        session: Session | None = None,
        status_code: int = 200,
        title_text: str | None = None,
        **values: Any,
    ) -> HTMLResponse:
        lang = self.language(request)
        staff = session.staff if session else None
        html = self.env.get_template(template).render(
            lang=lang,
            t=lambda key: translate(key, lang),
            title=title_text or translate(title_key or "console", lang),
            page=title_key or request.url.path,
            staff=staff,
            csrf=session.csrf if session else "",
            plugin_pages=[
                (f"/console{p.path}", p.title.get(lang) or p.title["de"])
                for p in self.pages
                if staff is not None and staff.can(p.scope)
            ],
            path=request.url.path,
            **values,
        )
        response = HTMLResponse(html, status_code=status_code, headers=HEADERS)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True
            )
        return response

    def session_of(self, request: Request) -> Session | None:
        return self.staff_store.session(request.cookies.get(COOKIE))

    def sign_in_first(self, request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"/console/login?{urlencode({'next': target})}", status_code=303, headers=HEADERS
        )

    def view(self, request: Request, scope: str) -> ConsoleView:
        """For plugins' pages: the signed-in person holding ``scope``, or the console's
        sign-in page / 403 (raised, answered by the app's handlers)."""
        session = self.session_of(request)
        if session is None:
            raise ConsoleRedirect(request.url.path)
        if not session.staff.can(scope):
            raise ConsoleForbidden()
        return ConsoleView(
            request, session, self.language(request), self.render, self.staff_store.audit
        )


def console_view(scope: str) -> Callable[[Request], ConsoleView]:
    """FastAPI dependency for a plugin's console page: the signed-in person, who must hold
    ``scope`` (else the sign-in page, or 403)."""

    def dependency(request: Request) -> ConsoleView:
        return request.app.state.console.view(request, scope)

    return dependency


def console_router(console: Console) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    hub, staff_store, render = console.hub, console.staff_store, console.render
    language, session_of = console.language, console.session_of

    # Pages need a signed-in person with the scope (else the sign-in page, or 403).
    reader = Depends(console_view("records:read"))
    ops = Depends(console_view("admin"))

    # --- signing in and out -----------------------------------------------------------------

    @router.get("/login")
    def login_form(request: Request, next: str = "/console/") -> Response:
        token = secrets.token_urlsafe(24)
        response = render(
            request,
            "login.html",
            "sign_in",
            login_csrf=token,
            next=next if _NEXT.match(next) else "/console/",
            username="",
            oidc_label=console.oidc.settings.label if console.oidc else None,
        )
        response.set_cookie(
            LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/console"
        )
        return response

    @router.post("/login")
    def login(
        request: Request,
        username: str = Form("", max_length=64),
        password: str = Form("", max_length=200),
        csrf: str = Form("", max_length=64),
        next: str = Form("/console/", max_length=500),
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, csrf):
            return render(request, "message.html", "session_expired", status_code=403)
        staff = staff_store.verify(username.strip().lower(), password)
        if staff is None:
            token = secrets.token_urlsafe(24)
            response = render(
                request,
                "login.html",
                "sign_in",
                status_code=401,
                error=translate("bad_login", language(request)),
                login_csrf=token,
                next=next if _NEXT.match(next) else "/console/",
                username=username,
                oidc_label=console.oidc.settings.label if console.oidc else None,
            )
            response.set_cookie(
                LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/console"
            )
            return response
        response = signed_in(request, staff, next)
        response.delete_cookie(LOGIN_COOKIE, path="/console")
        return response

    def signed_in(request: Request, staff: Any, next: str) -> Response:
        sid, _ = staff_store.open_session(staff)
        response = RedirectResponse(
            next if _NEXT.match(next) else "/console/", status_code=303, headers=HEADERS
        )
        response.set_cookie(
            COOKIE,
            sid,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/console",
        )
        return response

    def callback_url(request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/console/oidc/callback"

    @router.get("/oidc/login")
    def oidc_login(request: Request, next: str = "/console/") -> Response:
        """Off to the municipality's identity provider (authorization code flow, PKCE)."""
        if console.oidc is None:
            return render(request, "message.html", "not_found", status_code=404)
        try:
            url, sealed = console.oidc.start(
                callback_url(request), next if _NEXT.match(next) else "/console/"
            )
        except OidcRefused as exc:
            return render(request, "message.html", "sso_failed", status_code=502, error=str(exc))
        response = RedirectResponse(url, status_code=303, headers=HEADERS)
        # Lax: the provider sends the browser back with a top-level GET from its own site.
        response.set_cookie(
            OIDC_COOKIE,
            sealed,
            max_age=600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/console/oidc",
        )
        return response

    @router.get("/oidc/callback")
    def oidc_callback(request: Request) -> Response:
        """Back from the provider: the person it vouches for, if they have an account here."""
        if console.oidc is None:
            return render(request, "message.html", "not_found", status_code=404)
        q = request.query_params
        lang = language(request)
        try:
            if q.get("error"):
                raise OidcRefused(f"the identity provider answered {q['error'][:64]}")
            code, state = q.get("code", ""), q.get("state", "")
            sealed = request.cookies.get(OIDC_COOKIE, "")
            if not code or not state or not sealed:
                raise OidcRefused("the answer lacks code, state or this browser's sign-in")
            username, next_url = console.oidc.finish(code, state, sealed, callback_url(request))
        except OidcRefused as exc:
            return render(request, "message.html", "sso_failed", status_code=403, error=str(exc))
        staff = staff_store.get(username)
        if staff is None:
            return render(
                request,
                "message.html",
                "sso_failed",
                status_code=403,
                error=translate("sso_no_account", lang),
            )
        staff_store.audit(username, "session.sso")
        response = signed_in(request, staff, next_url)
        response.delete_cookie(OIDC_COOKIE, path="/console/oidc")
        return response

    @router.post("/logout")
    def logout(request: Request, csrf: str = Form("", max_length=64)) -> Response:
        session = session_of(request)
        if session is not None and token_ok(session, csrf):
            staff_store.close_session(request.cookies[COOKIE], session.staff.username)
        response = RedirectResponse("/console/login", status_code=303, headers=HEADERS)
        response.delete_cookie(COOKIE, path="/console")
        return response

    # --- pages ------------------------------------------------------------------------------

    @router.get("/")
    def overview(request: Request, view: ConsoleView = reader) -> Response:
        session = view.session
        patterns = session.staff.municipalities
        counts = sorted(hub.store.count_by_status(ars_patterns=patterns).items())
        dead = len(hub.store.dead_letters(1000, ars_patterns=patterns))
        return render(
            request, "overview.html", "overview", session, counts=counts, dead_letters=dead
        )

    @router.get("/records")
    def records(request: Request, view: ConsoleView = reader) -> Response:
        session = view.session
        q = request.query_params
        filters = {k: q.get(k) or None for k in ("status", "channel", "adapter", "ars", "leika")}
        filters["from"], filters["to"] = q.get("from") or None, q.get("to") or None
        problems, query = _record_filters(filters, set(hub.config.adapters))
        before = None
        if q.get("before_at") and q.get("before_id"):
            try:
                before = (datetime.fromisoformat(q["before_at"]), q["before_id"][:36])
            except ValueError:
                problems.append(FieldProblem("before_at", "format", "an ISO 8601 time"))
        rows = []
        if not problems:
            rows = hub.store.list_records(
                ars_patterns=session.staff.municipalities, limit=50, before=before, **query
            )
        next_url = None
        if len(rows) == 50:
            more = {k: v for k, v in filters.items() if v}
            more.update(before_at=rows[-1].received_at.isoformat(), before_id=rows[-1].id)
            next_url = f"/console/records?{urlencode(more)}"
        lang = language(request)
        return render(
            request,
            "records.html",
            "records",
            session,
            status_code=400 if problems else 200,
            error=translate("bad_request", lang) if problems else None,
            problems=problems,
            filters=filters,
            rows=rows,
            next_url=next_url,
            statuses=[s.value for s in RecordStatus],
            channels=[c.value for c in Channel],
            adapters=sorted(hub.config.adapters),
        )

    @router.get("/records/{record_id}")
    def record(request: Request, record_id: str, view: ConsoleView = reader) -> Response:
        session = view.session
        owner = hub.store.record_owner(record_id) if len(record_id) <= 36 else None
        if owner is None or not may_act_for(session.staff.as_client(), owner[1]):
            return render(request, "message.html", "not_found", session, 404)
        found = hub.store.get_record(record_id)
        return render(
            request,
            "record.html",
            "record",
            session,
            record=found,
            steps=hub.store.checkpoints(record_id),
            attachments=hub.attachments.list(record_id),
            can_retry=session.staff.can("admin")
            and any(d.status == RecordStatus.dead_letter for d in found.deliveries),
        )

    @router.get("/dead-letters")
    def dead_letters(
        request: Request, done: int | None = None, view: ConsoleView = ops
    ) -> Response:
        session = view.session
        lang = language(request)
        notice = None
        if done is not None:
            notice = (
                f"{translate('retried', lang)}: {done}"
                if done
                else translate("nothing_selected", lang)
            )
        items = hub.store.dead_letters(200, ars_patterns=session.staff.municipalities)
        return render(
            request, "dead_letters.html", "dead_letters", session, items=items, notice=notice
        )

    @router.post("/dead-letters/retry")
    def retry(
        request: Request,
        csrf: str = Form("", max_length=64),
        record_id: list[str] = Form(default_factory=list),
        view: ConsoleView = ops,
    ) -> Response:
        session = view.session
        if not view.form_ok(csrf):
            return render(request, "message.html", "session_expired", session, 403)
        client = session.staff.as_client()
        done = 0
        for rid in dict.fromkeys(record_id[:200]):  # each once, at most a page of them
            owner = hub.store.record_owner(rid) if len(rid) <= 36 else None
            if owner is None or not may_act_for(client, owner[1]):
                continue
            retried = hub.retry(rid)
            if retried:
                done += 1
                staff_store.audit(session.staff.username, "retry", rid, ",".join(retried))
        return RedirectResponse(
            f"/console/dead-letters?done={done}", status_code=303, headers=HEADERS
        )

    @router.get("/health")
    def health(request: Request, view: ConsoleView = ops) -> Response:
        session = view.session
        from hub.core.health import run_checks

        pollers = [
            {
                "name": p.name,
                "interval": p.interval,
                "last_success": p.last_success,
                "last_error": p.last_error,
            }
            for p in hub.pollers
        ]
        return render(
            request, "health.html", "health", session, checks=run_checks(hub), pollers=pollers
        )

    @router.get("/audit")
    def audit(request: Request, view: ConsoleView = ops) -> Response:
        session = view.session
        return render(request, "audit.html", "audit", session, items=staff_store.audit_trail())

    return router


def _record_filters(
    filters: dict[str, str | None], adapters: set[str]
) -> tuple[list[FieldProblem], dict[str, Any]]:
    """The records page's filters checked (each problem names its field) and as the store's
    query arguments; dates are whole days in local time, ``to`` inclusive."""
    problems: list[FieldProblem] = []
    query: dict[str, Any] = {}
    if filters["status"]:
        if filters["status"] in {s.value for s in RecordStatus}:
            query["status"] = filters["status"]
        else:
            problems.append(FieldProblem("status", "choice", "not a record status"))
    if filters["channel"]:
        if filters["channel"] in {c.value for c in Channel}:
            query["channel"] = filters["channel"]
        else:
            problems.append(FieldProblem("channel", "choice", "not a channel"))
    if filters["adapter"]:
        if filters["adapter"] in adapters:
            query["adapter"] = filters["adapter"]
        else:
            problems.append(FieldProblem("adapter", "choice", "not a configured adapter"))
    for name, rule in (("ars", _ARS), ("leika", _LEIKA)):
        value = filters[name]
        if value:
            if rule.match(value):
                query[name] = value
            else:
                problems.append(FieldProblem(name, "pattern", "digits, optionally ending in *"))
    for name, key, shift in (("from", "since", 0), ("to", "until", 1)):
        value = filters[name]
        if value:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                problems.append(FieldProblem(name, "format", "a date, YYYY-MM-DD"))
                continue
            query[key] = datetime.combine(day + timedelta(days=shift), time(), BERLIN)
    return problems, query


__all__ = ["STATIC", "Console", "console_router", "console_view"]
