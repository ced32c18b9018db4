"""The Bürgerkoffer page of the staff console (ops): the devices of the person's
municipalities, registering one (its credential is shown once, on this page only) and
revoking one at once. Changes go into the console's audit trail and the koffer audit."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, select_autoescape

import hub

BERLIN = ZoneInfo("Europe/Berlin")
PAGE = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string(
    """
{% if credential %}
<div class="notice" role="status">
  <p>{{ t.credential_for }} <strong>{{ credential_device }}</strong>:</p>
  <p><code>{{ credential }}</code></p>
  <p>{{ t.credential_once }}</p>
</div>
{% endif %}
<table>
  <caption>{{ t.devices }}</caption>
  <thead><tr><th scope="col">{{ t.name }}</th><th scope="col">{{ t.municipality }}</th>
    <th scope="col">{{ t.registered }}</th><th scope="col">{{ t.state }}</th>
    <th scope="col" class="num">{{ t.running }}</th>
    <th scope="col" class="num">{{ t.complete }}</th>
    <th scope="col">{{ t.action }}</th></tr></thead>
  <tbody>
  {% for d in devices %}
    <tr><td>{{ d.name }}</td><td>{{ d.municipality }}</td><td>{{ d.created }}</td>
      <td>{{ t.revoked ~ " " ~ d.revoked if d.revoked else t.active }}</td>
      <td class="num">{{ d.running }}</td><td class="num">{{ d.complete }}</td>
      <td>{% if not d.revoked %}
        <form method="post" action="/console/koffer/revoke">
          <input type="hidden" name="csrf" value="{{ csrf }}">
          <input type="hidden" name="name" value="{{ d.name }}">
          <button type="submit">{{ t.revoke }}<span class="sr-only"> {{ d.name }}</span></button>
        </form>{% else %}–{% endif %}</td></tr>
  {% else %}<tr><td colspan="7">{{ t.none }}</td></tr>{% endfor %}
  </tbody>
</table>
<p><a href="/console/records?channel=koffer">{{ t.applications }}</a></p>
<form method="post" action="/console/koffer/register">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <fieldset>
    <legend>{{ t.register }}</legend>
    <p><label for="name">{{ t.name }}</label>
      <input id="name" name="name" required maxlength="64" pattern="[A-Za-z0-9._\\-]+"></p>
    <p><label for="municipality">{{ t.municipality }}</label>
      <input id="municipality" name="municipality" required inputmode="numeric"
             maxlength="12" pattern="[0-9]{12}"></p>
    <p><button type="submit">{{ t.register_button }}</button></p>
  </fieldset>
</form>
"""
)
WORDS = {
    "de": {
        "title": "Bürgerkoffer",
        "devices": "Geräte",
        "name": "Name",
        "municipality": "Kommune (ARS)",
        "registered": "Registriert",
        "state": "Zustand",
        "active": "aktiv",
        "revoked": "gesperrt seit",
        "action": "Aktion",
        "running": "Uploads heute laufend",
        "complete": "Uploads heute vollständig",
        "revoke": "Sperren",
        "none": "Keine Geräte.",
        "applications": "Anträge aus Bürgerkoffern",
        "register": "Gerät registrieren",
        "register_button": "Registrieren",
        "credential_for": "Zugangsdaten für",
        "credential_once": "Jetzt auf dem Gerät eintragen: sie werden nicht noch einmal gezeigt.",
        "revoked_notice": "Gesperrt.",
        "bad": "Das ging nicht",
        "expired": "Das Formular ist abgelaufen. Bitte noch einmal absenden.",
        "not_configured": "Der Bürgerkoffer ist in diesem Hub nicht eingerichtet.",
    },
    "en": {
        "title": "Bürgerkoffer",
        "devices": "Devices",
        "name": "Name",
        "municipality": "Municipality (ARS)",
        "registered": "Registered",
        "state": "State",
        "active": "active",
        "revoked": "revoked since",
        "action": "Action",
        "running": "Uploads today in progress",
        "complete": "Uploads today complete",
        "revoke": "Revoke",
        "none": "No devices.",
        "applications": "Applications from Bürgerkoffer devices",
        "register": "Register a device",
        "register_button": "Register",
        "credential_for": "Credential for",
        "credential_once": "Enter it on the device now: it is not shown again.",
        "revoked_notice": "Revoked.",
        "bad": "That did not work",
        "expired": "The form has expired. Please send it again.",
        "not_configured": "The Bürgerkoffer is not set up in this hub.",
    },
}


def page(state: Any) -> hub.ConsolePage:
    return hub.ConsolePage(
        "koffer",
        "/koffer",
        {"de": WORDS["de"]["title"], "en": WORDS["en"]["title"]},
        "admin",
        _router(state),
    )


def _router(state: Any) -> APIRouter:
    from hub_bundesdruckerei.store import DeviceError

    api = APIRouter()
    ops = Depends(hub.console_view("admin"))

    def show(
        view: hub.ConsoleView,
        *,
        credential: tuple[str, str] | None = None,
        error: str | None = None,
        notice: str | None = None,
        status_code: int = 200,
    ) -> Response:
        t = WORDS[view.lang]
        koffer = state(view.request.app.state.hub)
        today = datetime.combine(date.today(), time(), BERLIN)
        activity = koffer.activity(today)
        devices = [
            {
                "running": activity.get(d.name, (0, 0))[0],
                "complete": activity.get(d.name, (0, 0))[1],
                "name": d.name,
                "municipality": d.municipality,
                "created": d.created_at.strftime("%d.%m.%Y"),
                "revoked": d.revoked_at.strftime("%d.%m.%Y %H:%M") if d.revoked_at else None,
            }
            for d in koffer.devices()
            if hub.may_act_for(view.client, d.municipality)
        ]
        html = PAGE.render(
            t=t,
            devices=devices,
            csrf=view.csrf,
            credential=credential[1] if credential else None,
            credential_device=credential[0] if credential else None,
        )
        return view.page(t["title"], html, status_code=status_code, error=error, notice=notice)

    @api.get("/")
    def devices(view: hub.ConsoleView = ops) -> Response:
        if state(view.request.app.state.hub) is None:
            t = WORDS[view.lang]
            return view.page(t["title"], "", status_code=404, error=t["not_configured"])
        notice = (
            WORDS[view.lang]["revoked_notice"] if view.request.query_params.get("done") else None
        )
        return show(view, notice=notice)

    @api.post("/register")
    def register(
        view: hub.ConsoleView = ops,
        csrf: str = Form("", max_length=64),
        name: str = Form(..., max_length=64),
        municipality: str = Form(..., max_length=12),
    ) -> Response:
        t = WORDS[view.lang]
        if not view.form_ok(csrf):
            return view.page(t["title"], "", status_code=403, error=t["expired"])
        if not hub.may_act_for(view.client, municipality):
            return show(view, error=f"{t['bad']}: municipality: not one of yours", status_code=403)
        try:
            token = state(view.request.app.state.hub).register(
                name, municipality, actor=view.client.name
            )
        except DeviceError as exc:
            return show(view, error=f"{t['bad']}: {exc}", status_code=400)
        view.audit("koffer.register", f"device:{name}", municipality)
        return show(view, credential=(name, token))

    @api.post("/revoke")
    def revoke(
        view: hub.ConsoleView = ops,
        csrf: str = Form("", max_length=64),
        name: str = Form(..., max_length=64),
    ) -> Response:
        t = WORDS[view.lang]
        if not view.form_ok(csrf):
            return view.page(t["title"], "", status_code=403, error=t["expired"])
        koffer = state(view.request.app.state.hub)
        mine = {d.name for d in koffer.devices() if hub.may_act_for(view.client, d.municipality)}
        try:
            if name not in mine:
                raise DeviceError(f"no active device named {name!r}")
            koffer.revoke(name, actor=view.client.name)
        except DeviceError as exc:
            return show(view, error=f"{t['bad']}: {exc}", status_code=404)
        view.audit("koffer.revoke", f"device:{name}")
        return RedirectResponse("/console/koffer/?done=revoked", status_code=303)

    return api


__all__ = ["page"]
