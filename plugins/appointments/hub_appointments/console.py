"""The appointments plugin's console pages (``register_console_pages``):

* **Termine** (ServiceCenter): find free times at an office — a Bürgerbüro in ZMS or an
  Einsatz of a mobile office, with a home visit's reason and the caller's district — book one
  for a caller (classic channel), find an appointment, move it, cancel it;
* **Tagesübersicht** (the team on site): a place's day — booked, arrived, no-show, walk-in —
  what the place offers, attendance with one button, walk-ins.

Everything goes through the same :class:`Appointments` calls as the API, scoped to the
person's municipalities, and every change is in the console's audit trail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

import hub

BERLIN = ZoneInfo("Europe/Berlin")
ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
WORDS: dict[str, dict[str, str]] = {
    "de": {
        "appointments": "Termine",
        "day_board": "Tagesübersicht",
        "search": "Freie Termine suchen",
        "office": "Ort",
        "service": "Leistung",
        "first_day": "Ab Tag",
        "days": "Tage",
        "reason": "Grund (Hausbesuch)",
        "no_reason": "keiner",
        "district": "Stadtteil",
        "find_slots": "Termine suchen",
        "free_times": "Freie Zeiten",
        "caller": "Anrufer/in",
        "family_name": "Nachname",
        "telephone": "Telefon",
        "email": "E-Mail",
        "book": "Termin buchen",
        "no_slots": "Keine freien Termine in diesem Zeitraum.",
        "find": "Termin finden",
        "appointment_id": "Termin-Nummer",
        "show": "Anzeigen",
        "status": "Status",
        "when": "Zeit",
        "channel": "Weg",
        "reason_cancelled": "Abgesagt, weil",
        "cancel": "Termin absagen",
        "move": "Termin verlegen",
        "appointment": "Termin",
        "booked": "Gebucht.",
        "moved": "Verlegt; der alte Termin ist abgesagt.",
        "cancelled_notice": "Abgesagt.",
        "choose_day": "Ort und Tag",
        "day": "Tag",
        "offered": "Hier möglich",
        "counts": "Stand des Tages",
        "confirmed": "gebucht",
        "attended": "erschienen",
        "no_show": "nicht erschienen",
        "walk_in": "ohne Termin",
        "cancelled": "abgesagt",
        "reserved": "reserviert",
        "appointments_of_the_day": "Termine des Tages",
        "action": "Erfasst",
        "came": "Erschienen",
        "did_not_come": "Nicht erschienen",
        "none": "Keine Termine.",
        "cases": "Vorgänge vor Ort an diesem Tag (Kommune des Ortes)",
        "case": "Vorgang",
        "no_cases": "Keine Vorgänge.",
        "record_walk_in": "Vorsprache ohne Termin erfassen",
        "walk_in_done": "Vorsprache ohne Termin erfasst.",
        "attendance_done": "Erfasst.",
        "bad": "Das ging nicht",
        "away": "Das Terminsystem ist gerade nicht erreichbar. Bitte später noch einmal.",
        "expired": "Das Formular ist abgelaufen. Bitte noch einmal absenden.",
        "not_found": "Nicht gefunden.",
        "no_offices": "Keine Orte für Ihre Kommunen.",
    },
    "en": {
        "appointments": "Appointments",
        "day_board": "Day board",
        "search": "Find free times",
        "office": "Place",
        "service": "Service",
        "first_day": "From day",
        "days": "Days",
        "reason": "Reason (home visit)",
        "no_reason": "none",
        "district": "District",
        "find_slots": "Find times",
        "free_times": "Free times",
        "caller": "Caller",
        "family_name": "Family name",
        "telephone": "Telephone",
        "email": "E-mail",
        "book": "Book",
        "no_slots": "No free times in this period.",
        "find": "Find an appointment",
        "appointment_id": "Appointment number",
        "show": "Show",
        "status": "Status",
        "when": "Time",
        "channel": "Channel",
        "reason_cancelled": "Cancelled because",
        "cancel": "Cancel the appointment",
        "move": "Move the appointment",
        "appointment": "Appointment",
        "booked": "Booked.",
        "moved": "Moved; the old appointment is cancelled.",
        "cancelled_notice": "Cancelled.",
        "choose_day": "Place and day",
        "day": "Day",
        "offered": "Offered here",
        "counts": "The day so far",
        "confirmed": "booked",
        "attended": "came",
        "no_show": "no-show",
        "walk_in": "walk-in",
        "cancelled": "cancelled",
        "reserved": "reserved",
        "appointments_of_the_day": "The day's appointments",
        "action": "Record",
        "came": "Came",
        "did_not_come": "Did not come",
        "none": "No appointments.",
        "cases": "Cases captured on site that day (the place's municipality)",
        "case": "Case",
        "no_cases": "No cases.",
        "record_walk_in": "Record a walk-in",
        "walk_in_done": "Walk-in recorded.",
        "attendance_done": "Recorded.",
        "bad": "That did not work",
        "away": "The booking system cannot be reached right now. Please try again later.",
        "expired": "The form has expired. Please send it again.",
        "not_found": "Not found.",
        "no_offices": "No places for your municipalities.",
    },
}
FAILURES = (hub.IntakeRejected, hub.BookingError, hub.TransientError)
# Channels of cases captured on site, shown on the day board with their status.
ON_SITE = ("koffer", "popup", "buergermobil", "home_visit", "counter")


WEEKDAYS = {
    "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def _when(moment: datetime | str, lang: str) -> str:
    """A time as people read it here: "Mo 07.12.2026 09:00" (not the C locale's words)."""
    local = _local(moment)
    return f"{WEEKDAYS[lang][local.weekday()]} {local:%d.%m.%Y %H:%M}"


def _local(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(BERLIN)


def _failure(exc: Exception, words: dict[str, str]) -> tuple[str, int]:
    """A refusal in words for the page, and its status."""
    if isinstance(exc, hub.IntakeRejected):
        text = "; ".join(f"{p.field}: {p.message} ({p.rule})" for p in exc.problems)
        return f"{words['bad']}: {text}", exc.status_code
    if isinstance(exc, hub.BookingError):
        return f"{words['bad']}: {exc.field}: {exc} ({exc.code})", 409
    return words["away"], 503


def pages(state: Any) -> list[hub.ConsolePage]:
    """The two pages, for ``register_console_pages``."""
    return [
        hub.ConsolePage(
            "appointments",
            "/appointments",
            {"de": WORDS["de"]["appointments"], "en": WORDS["en"]["appointments"]},
            "records:write",
            _booking_router(state),
        ),
        hub.ConsolePage(
            "day_board",
            "/day-board",
            {"de": WORDS["de"]["day_board"], "en": WORDS["en"]["day_board"]},
            "records:write",
            _day_router(state),
        ),
    ]


def _booking_router(state: Any) -> APIRouter:
    api = APIRouter()
    staff = Depends(hub.console_view("records:write"))

    def offices(view: hub.ConsoleView) -> list[dict[str, Any]]:
        return [o for o in state(view.request.app.state.hub).offices() if _mine(view, o)]

    @api.get("/")
    def search(request: Request, view: hub.ConsoleView = staff) -> Response:
        t = WORDS[view.lang]
        books = state(request.app.state.hub)
        q = request.query_params
        try:
            visible = offices(view)
        except FAILURES as exc:
            message, status = _failure(exc, t)
            return view.page(t["appointments"], "", status_code=status, error=message)
        services = sorted(
            {(s["leika"], s["name"]) for o in visible for s in o["services"]}, key=lambda s: s[1]
        )
        reasons = sorted(
            {c for o in visible for f in o["fields"] if f["name"] == "reason" for c in f["choices"]}
        )
        asked = {
            "office": q.get("office", ""),
            "service": q.get("service", ""),
            "from": q.get("from") or date.today().isoformat(),
            "days": int(q["days"]) if q.get("days", "").isdigit() else 14,
            "reason": q.get("reason", ""),
            "district": q.get("district", ""),
            "replaces": q.get("replaces", ""),
        }
        slots, error, status = [], None, 200
        searched = bool(asked["office"] and asked["service"] and "from" in q)
        if searched:
            try:
                first = date.fromisoformat(asked["from"])
                found = books.free_slots(
                    asked["office"],
                    [(asked["service"], 1)],
                    first,
                    first + timedelta(days=min(asked["days"], 28) - 1),
                    _answers(asked),
                )
                slots = [(s.isoformat(), _when(s, view.lang)) for s in found[:60]]
            except ValueError:
                error, status = f"{t['bad']}: from: YYYY-MM-DD", 400
            except FAILURES as exc:
                error, status = _failure(exc, t)
        html = ENV.get_template("search.html").render(
            t=t,
            offices=visible,
            services=services,
            reasons=reasons,
            asked=asked,
            slots=slots,
            searched=searched and error is None,
            csrf=view.csrf,
        )
        if not visible:
            error = error or t["no_offices"]
        return view.page(t["appointments"], html, status_code=status, error=error)

    @api.post("/book")
    def book(
        view: hub.ConsoleView = staff,
        csrf: str = Form("", max_length=64),
        office: str = Form(..., max_length=64),
        service: str = Form(..., max_length=14),
        start: str = Form(..., max_length=40),
        family_name: str = Form(..., max_length=100),
        telephone: str = Form("", max_length=40),
        email: str = Form("", max_length=254),
        reason: str = Form("", max_length=32),
        district: str = Form("", max_length=100),
        replaces: str = Form("", max_length=36),
    ) -> Response:
        def act(books: Any) -> Response:
            _own_place(view, books, office)
            if not (telephone.strip() or email.strip()):
                raise hub.IntakeRejected.one("telephone", "required", "telephone or e-mail")
            try:
                when = datetime.fromisoformat(start)
            except ValueError:
                raise hub.IntakeRejected.one("start", "format", "one of the free times") from None
            old = _own(view, books, replaces, "replaces") if replaces else None
            made = books.reserve(
                office,
                [(service, 1)],
                when,
                channel="classic",
                booked_by=view.client.name,
                answers=_answers({"reason": reason, "district": district}),
            )
            contact = hub.BookingContact(
                family_name, email.strip() or None, telephone.strip() or None
            )
            books.confirm(made["id"], contact)
            if old is not None:
                books.cancel(old["id"], token=None, staff=True)
                view.audit("appointment.move", made["id"], f"from {old['id']}")
            else:
                view.audit("appointment.book", made["id"], office)
            done = "moved" if old is not None else "booked"
            return RedirectResponse(
                f"/console/appointments/{made['id']}?done={done}", status_code=303
            )

        return _change(view, state, "appointments", csrf, act)

    @api.get("/find")
    def find(request: Request, view: hub.ConsoleView = staff) -> Response:
        wanted = request.query_params.get("id", "").strip()[:36]
        return RedirectResponse(f"/console/appointments/{quote(wanted)}", status_code=303)

    @api.get("/{appointment_id}")
    def show(appointment_id: str, request: Request, view: hub.ConsoleView = staff) -> Response:
        t = WORDS[view.lang]
        books = state(request.app.state.hub)
        try:
            found = books.get(appointment_id)
        except FAILURES:
            found = None
        if found is None or not hub.may_act_for(view.client, found["ars"]):
            return view.page(t["appointment"], "", status_code=404, error=t["not_found"])
        try:
            office_name = books.place(found["office"]).office.name
        except FAILURES:
            office_name = found["office"]
        html = ENV.get_template("appointment.html").render(
            t=t,
            a=found,
            when=_when(found["start"], view.lang),
            office_name=office_name,
            started=_local(found["start"]) <= datetime.now(UTC),
            csrf=view.csrf,
        )
        done = request.query_params.get("done")
        notice = {"booked": t["booked"], "moved": t["moved"], "cancelled": t["cancelled_notice"]}
        return view.page(t["appointment"], html, notice=notice.get(done or ""))

    @api.post("/{appointment_id}/cancel")
    def cancel(
        appointment_id: str, view: hub.ConsoleView = staff, csrf: str = Form("", max_length=64)
    ) -> Response:
        def act(books: Any) -> Response:
            _own(view, books, appointment_id, "appointment")
            books.cancel(appointment_id, token=None, staff=True)
            view.audit("appointment.cancel", appointment_id)
            return RedirectResponse(
                f"/console/appointments/{appointment_id}?done=cancelled", status_code=303
            )

        return _change(view, state, "appointment", csrf, act)

    return api


def _day_router(state: Any) -> APIRouter:
    api = APIRouter()
    staff = Depends(hub.console_view("records:write"))

    @api.get("/")
    def board(request: Request, view: hub.ConsoleView = staff) -> Response:
        t = WORDS[view.lang]
        books = state(request.app.state.hub)
        q = request.query_params
        try:
            visible = [o for o in books.offices() if _mine(view, o)]
        except FAILURES as exc:
            message, status = _failure(exc, t)
            return view.page(t["day_board"], "", status_code=status, error=message)
        try:
            day = date.fromisoformat(q.get("day") or date.today().isoformat())
        except ValueError:
            return view.page(t["day_board"], "", status_code=400, error=f"{t['bad']}: day")
        office = next((o for o in visible if o["id"] == q.get("office")), None)
        if office is None and visible and not q.get("office"):
            office = visible[0]
        rows, counts = [], Counter()
        if office is not None:
            begin = datetime.combine(day, time(), BERLIN)
            now = datetime.now(UTC)
            for a in books.on_day(office["id"], begin, begin + timedelta(days=1)):
                start = _local(a["start"])
                counts[a["status"]] += 1
                rows.append(
                    (a, start.strftime("%H:%M"), a["status"] == "confirmed" and start <= now)
                )
            counts["confirmed"] += counts["attended"] + counts["no_show"]  # booked in all
        cases = []
        if office is not None:
            hub_ = request.app.state.hub
            begin = datetime.combine(day, time(), BERLIN)
            for channel in ON_SITE:
                for r in hub_.store.list_records(
                    ars_patterns=view.client.municipalities,
                    ars=office["ars"],
                    channel=channel,
                    since=begin,
                    until=begin + timedelta(days=1),
                    limit=200,
                ):
                    cases.append((_local(r.received_at).strftime("%H:%M"), r))
            cases.sort(key=lambda c: c[0])
        html = ENV.get_template("day.html").render(
            t=t, offices=visible, office=office, day=day.isoformat(), rows=rows,
            counts=counts, csrf=view.csrf, cases=cases,
        )  # fmt: skip
        notice = {"walk_in": t["walk_in_done"], "attendance": t["attendance_done"]}
        error = None if visible else t["no_offices"]
        if q.get("office") and office is None:
            return view.page(t["day_board"], html, status_code=404, error=t["not_found"])
        return view.page(t["day_board"], html, notice=notice.get(q.get("done") or ""), error=error)

    @api.post("/attendance")
    def attendance(
        view: hub.ConsoleView = staff,
        csrf: str = Form("", max_length=64),
        id: str = Form(..., max_length=36),
        attended: str = Form(..., pattern="^(yes|no)$"),
    ) -> Response:
        def act(books: Any) -> Response:
            _own(view, books, id, "id")
            done = books.attendance(id, attended=attended == "yes")
            view.audit("appointment.attendance", id, done["status"])
            day = _local(done["start"]).date().isoformat()
            return RedirectResponse(
                f"/console/day-board/?office={quote(done['office'])}&day={day}&done=attendance",
                status_code=303,
            )

        return _change(view, state, "day_board", csrf, act)

    @api.post("/walk-in")
    def walk_in(
        view: hub.ConsoleView = staff,
        csrf: str = Form("", max_length=64),
        office: str = Form(..., max_length=64),
        service: str = Form(..., max_length=14),
        day: str = Form("", max_length=10),
    ) -> Response:
        def act(books: Any) -> Response:
            _own_place(view, books, office)
            made = books.walk_in(office, [(service, 1)], booked_by=view.client.name)
            view.audit("appointment.walk_in", made["id"], office)
            return RedirectResponse(
                f"/console/day-board/?office={quote(office)}&day={quote(day)}&done=walk_in",
                status_code=303,
            )

        return _change(view, state, "day_board", csrf, act)

    return api


def _mine(view: hub.ConsoleView, office: dict[str, Any]) -> bool:
    return hub.may_act_for(view.client, office["ars"])


def _change(
    view: hub.ConsoleView, state: Any, title: str, csrf: str, act: Callable[[Any], Response]
) -> Response:
    """A form that changes something: its CSRF token checked, ``act(appointments)`` run,
    refusals shown on the page in the person's language."""
    t = WORDS[view.lang]
    if not view.form_ok(csrf):
        return view.page(t[title], "", status_code=403, error=t["expired"])
    try:
        return act(state(view.request.app.state.hub))
    except FAILURES as exc:
        message, status = _failure(exc, t)
        return view.page(t[title], "", status_code=status, error=message)


def _own_place(view: hub.ConsoleView, books: Any, office: str) -> Any:
    place = books.place(office)
    if not hub.may_act_for(view.client, place.ars):
        raise hub.IntakeRejected.one("office", "unknown", "no such office", status_code=404)
    return place


def _own(view: hub.ConsoleView, books: Any, appointment_id: str, field: str) -> dict[str, Any]:
    found = books.get(appointment_id)
    if not hub.may_act_for(view.client, found["ars"]):
        raise hub.IntakeRejected.one(field, "unknown", "no such appointment", status_code=404)
    return found


def _answers(asked: dict[str, Any]) -> dict[str, str]:
    return {k: asked[k] for k in ("reason", "district") if asked.get(k)}


__all__ = ["pages"]
