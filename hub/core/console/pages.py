"""Console pages that plugins add (``register_console_pages``): the console's sign-in,
session, CSRF, layout and audit trail, for a plugin's own router.

A plugin registers a :class:`ConsolePage` — its name, where it sits under ``/console``, its
title in German and English, the scope a person needs — with an ``APIRouter`` whose handlers
take ``view: hub.ConsoleView = Depends(hub.console_view("records:write"))``. The view knows
the person (``view.staff``, ``view.client`` for :func:`hub.may_act_for`), checks a form's
CSRF token (``view.form_ok(token)``), writes the audit trail (``view.audit(...)``) and puts
the plugin's HTML into the console's layout (``view.page(title, html)``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from hub.core.config import ClientConfig
from hub.core.staff import Session, Staff


def token_ok(session: Session, token: str) -> bool:
    """Whether a form carries its session's CSRF token."""
    return bool(token) and secrets.compare_digest(session.csrf, token)


@dataclass(frozen=True)
class ConsolePage:
    """A page of a plugin in the console's navigation."""

    name: str
    path: str  # under /console, e.g. "/appointments"
    title: Mapping[str, str]  # {"de": ..., "en": ...}
    scope: str  # the API scope a person's roles must give
    router: APIRouter = field(repr=False)


class ConsoleRedirect(Exception):
    """Not signed in: the console answers with its sign-in page (then back here)."""

    def __init__(self, target: str):
        super().__init__(target)
        self.target = target


class ConsoleForbidden(Exception):
    """Signed in, but the person's roles do not give the page's scope."""


@dataclass
class ConsoleView:
    """What a plugin's console handler gets: the person, their language, the layout."""

    request: Request
    session: Session
    lang: str
    _render: Callable[..., HTMLResponse]
    _audit: Callable[..., None]

    @property
    def staff(self) -> Staff:
        return self.session.staff

    @property
    def client(self) -> ClientConfig:
        """The API client this person acts as (for :func:`hub.may_act_for`)."""
        return self.session.staff.as_client()

    @property
    def csrf(self) -> str:
        """The token every form that changes something must carry as ``csrf``."""
        return self.session.csrf

    def form_ok(self, token: str) -> bool:
        return token_ok(self.session, token)

    def audit(self, action: str, target: str | None = None, detail: str | None = None) -> None:
        """Record a change this person made (ids and names of things, no citizen's data)."""
        self._audit(self.staff.username, action, target, detail)

    def page(
        self,
        title: str,
        html: str,
        *,
        status_code: int = 200,
        notice: str | None = None,
        error: str | None = None,
    ) -> HTMLResponse:
        """The plugin's HTML (escape what it did not write itself) in the console layout."""
        return self._render(
            self.request,
            "plugin_page.html",
            None,
            self.session,
            status_code,
            title_text=title,
            body=Markup(html),
            notice=notice,
            error=error,
        )


__all__ = ["ConsoleForbidden", "ConsolePage", "ConsoleRedirect", "ConsoleView", "token_ok"]
