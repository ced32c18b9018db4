"""The print queue in the staff console (Briefe): letters to citizens of the person's
municipalities waiting to be printed, each as PDF, and "printed" (the PDF with the address is
dropped then; the console's audit trail records who)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, select_autoescape
from sqlalchemy import select, update

import hub
from hub import utcnow
from hub_notify import tables

BERLIN = ZoneInfo("Europe/Berlin")
L = tables.letters
PAGE = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string(
    """
<table>
  <caption>{{ t.waiting }}</caption>
  <thead><tr><th scope="col">{{ t.created }}</th><th scope="col">{{ t.message }}</th>
    <th scope="col">{{ t.case }}</th><th scope="col">{{ t.letter }}</th>
    <th scope="col">{{ t.action }}</th></tr></thead>
  <tbody>
  {% for l in letters %}
    <tr><td>{{ l.created }}</td><td>{{ t.events.get(l.event, l.event) }}</td>
      <td><a href="/console/records/{{ l.record_id }}">{{ l.record_id[:8] }}</a></td>
      <td><a href="/console/letters/{{ l.id }}.pdf">PDF<span class="sr-only">
        {{ l.record_id[:8] }}</span></a></td>
      <td><form method="post" action="/console/letters/{{ l.id }}/printed">
        <input type="hidden" name="csrf" value="{{ csrf }}">
        <button type="submit">{{ t.printed }}<span class="sr-only">
          {{ l.record_id[:8] }}</span></button>
      </form></td></tr>
  {% else %}<tr><td colspan="5">{{ t.none }}</td></tr>{% endfor %}
  </tbody>
</table>
"""
)
EVENTS_DE = {
    "received": "Eingang bestätigt", "received_by_office": "In Bearbeitung",
    "ready_for_pickup": "Abholbereit", "rejected": "Abgelehnt", "registered": "Erledigt",
    "come_in_person": "Bitte vorbeikommen", "appointment_booked": "Termin gebucht",
    "appointment_cancelled": "Termin abgesagt", "reminder": "Terminerinnerung",
}  # fmt: skip
WORDS = {
    "de": {"title": "Briefe", "waiting": "Briefe zum Drucken", "created": "Erstellt",
           "message": "Nachricht", "case": "Vorgang", "letter": "Brief", "action": "Aktion",
           "printed": "Gedruckt", "none": "Keine Briefe zu drucken.", "events": EVENTS_DE,
           "done": "Als gedruckt vermerkt.", "expired": "Das Formular ist abgelaufen."},
    "en": {"title": "Letters", "waiting": "Letters to print", "created": "Created",
           "message": "Message", "case": "Case", "letter": "Letter", "action": "Action",
           "printed": "Printed", "none": "No letters to print.", "events": {},
           "done": "Marked as printed.", "expired": "The form has expired."},
}  # fmt: skip


def page() -> hub.ConsolePage:
    return hub.ConsolePage(
        "letters", "/letters", {"de": "Briefe", "en": "Letters"}, "admin", _router()
    )


def _router() -> APIRouter:
    api = APIRouter()
    ops = Depends(hub.console_view("admin"))

    def mine(view: hub.ConsoleView, letter_id: str | None = None) -> list[Any]:
        h = view.request.app.state.hub
        query = select(L.c.id, L.c.record_id, L.c.event, L.c.ars, L.c.created_at, L.c.pdf)
        query = query.where(L.c.printed_at.is_(None)).order_by(L.c.created_at)
        if letter_id is not None:
            query = query.where(L.c.id == letter_id)
        with h.store.reading() as conn:
            rows = conn.execute(query).all()
        return [r for r in rows if hub.may_act_for(view.client, r.ars)]

    @api.get("/")
    def letters(view: hub.ConsoleView = ops) -> Response:
        t = WORDS[view.lang]
        shown = [
            {"id": r.id, "record_id": r.record_id, "event": r.event,
             "created": f"{r.created_at.astimezone(BERLIN):%d.%m.%Y %H:%M}"}
            for r in mine(view)
        ]  # fmt: skip
        notice = t["done"] if view.request.query_params.get("done") else None
        html = PAGE.render(t=t, letters=shown, csrf=view.csrf)
        return view.page(t["title"], html, notice=notice)

    @api.get("/{letter_id}.pdf")
    def pdf(letter_id: str, view: hub.ConsoleView = ops) -> Response:
        found = mine(view, letter_id)
        if not found or found[0].pdf is None:
            return Response(status_code=404)
        view.audit("letters.download", f"letter:{letter_id}")
        return Response(found[0].pdf, media_type="application/pdf")

    @api.post("/{letter_id}/printed")
    def printed(letter_id: str, view: hub.ConsoleView = ops, csrf: str = Form("")) -> Response:
        t = WORDS[view.lang]
        if not view.form_ok(csrf):
            return view.page(t["title"], "", status_code=403, error=t["expired"])
        if not mine(view, letter_id):
            return Response(status_code=404)
        with view.request.app.state.hub.store.transaction() as conn:
            conn.execute(
                update(L)
                .where(L.c.id == letter_id, L.c.printed_at.is_(None))
                .values(printed_at=utcnow(), pdf=None)
            )
        view.audit("letters.printed", f"letter:{letter_id}")
        return RedirectResponse("/console/letters/?done=1", status_code=303)

    return api


__all__ = ["page"]
