"""The Auswertung page of the staff console: the year's figures per Einsatz for the person's
municipalities, the charts (as images with their figures in tables beside them) and the
one-click PDF "Evaluation nach einem Jahr"."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from jinja2 import Environment, select_autoescape

import hub
from hub_evaluation import charts
from hub_evaluation.export import FORMATS, as_file, filename
from hub_evaluation.report import cases_report, table
from hub_evaluation.routes import all_einsaetze, checked_window, draw, evaluation_report
from hub_evaluation.yearly import KIND_WORDS, evaluation

PAGE = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string(
    """
<form method="get" action="/console/evaluation/">
  <fieldset>
    <legend>{{ t.window }}</legend>
    <p><label for="from">{{ t.from }}</label>
      <input id="from" name="from" type="date" value="{{ first }}">
      <label for="to">{{ t.to }}</label>
      <input id="to" name="to" type="date" value="{{ last }}">
      <button type="submit">{{ t.show }}</button></p>
  </fieldset>
</form>
<p><a href="/console/evaluation/evaluation.pdf?from={{ first }}&amp;to={{ last }}">
  {{ t.pdf }}</a></p>
<p>{{ t.files }}:
  {% for fmt in ("xlsx", "ods", "csv") -%}
  <a href="/console/evaluation/cases.{{ fmt }}?from={{ first }}&amp;to={{ last }}">
    {{- fmt|upper }}<span class="sr-only"> ({{ t.files }})</span></a>
  {%- if not loop.last %} · {% endif %}
  {%- endfor %}</p>
<p>{{ t.summary.format(n=figures.einsaetze|length, cases=fmt(figures.total_cases)) }}
   {{ t.hidden.format(n=figures.min_cell) }}</p>
<table>
  <caption>{{ t.einsaetze }}</caption>
  <thead><tr><th scope="col">{{ t.einsatz }}</th><th scope="col">{{ t.kind }}</th>
    <th scope="col" class="num">{{ t.days }}</th><th scope="col" class="num">{{ t.cases }}</th>
    <th scope="col" class="num">{{ t.offered }}</th><th scope="col" class="num">{{ t.booked }}</th>
    <th scope="col" class="num">{{ t.no_show }}</th><th scope="col" class="num">{{ t.walk_in }}</th>
    <th scope="col" class="num">{{ t.utilisation }}</th>
    <th scope="col" class="num">{{ t.cost_per_case }}</th></tr></thead>
  <tbody>
  {% for f in figures.einsaetze %}
    <tr><td>{{ f.name }}</td><td>{{ kinds.get(f.kind, f.kind) }}</td>
      <td class="num">{{ f.days }}</td><td class="num">{{ fmt(f.cases) }}</td>
      <td class="num">{{ f.offered }}</td>
      <td class="num">{{ fmt(f.appointments.get("booked", 0)) }}</td>
      <td class="num">{{ fmt(f.appointments.get("no_show", 0)) }}</td>
      <td class="num">{{ fmt(f.appointments.get("walk_in", 0)) }}</td>
      <td class="num">{{ pct(f.appointments.get("utilisation")) }}</td>
      <td class="num">{{ "–" if f.cost_eur is none else fmt(f.cost_per_case_eur) }}</td></tr>
  {% else %}<tr><td colspan="10">{{ t.none }}</td></tr>{% endfor %}
  </tbody>
</table>
<p>{{ t.gaps }}</p>
<h2>{{ t.per_month }}</h2>
<img src="/console/evaluation/charts/cases-per-month.svg?from={{ first }}&amp;to={{ last }}"
     alt="{{ t.per_month_alt }}" width="800">
<table>
  <caption>{{ t.per_month }}</caption>
  <thead><tr><th scope="col">{{ t.month }}</th>
    <th scope="col" class="num">{{ t.cases }}</th></tr></thead>
  <tbody>{% for month, n in months.items() %}
    <tr><td>{{ month }}</td><td class="num">{{ fmt(n) }}</td></tr>{% endfor %}</tbody>
</table>
<h2>{{ t.by_channel }}</h2>
<img src="/console/evaluation/charts/cases-by-channel.svg?from={{ first }}&amp;to={{ last }}"
     alt="{{ t.by_channel_alt }}" width="800">
<h2>{{ t.places }}</h2>
<img src="/console/evaluation/charts/places.svg?from={{ first }}&amp;to={{ last }}"
     alt="{{ t.places_alt }}" width="640">
<h2>{{ t.utilisation }}</h2>
<img src="/console/evaluation/charts/utilisation.svg?from={{ first }}&amp;to={{ last }}"
     alt="{{ t.utilisation_alt }}" width="800">
"""
)
WORDS = {
    "de": {
        "title": "Auswertung",
        "window": "Zeitraum",
        "from": "von",
        "to": "bis",
        "show": "Anzeigen",
        "pdf": "Evaluation nach einem Jahr (PDF)",
        "files": "Fälle je Monat, Kanal und Leistung als Datei",
        "summary": "{n} Einsätze, {cases} Fälle.",
        "hidden": "Werte unter {n} werden nicht ausgewiesen (<).",
        "einsaetze": "Einsätze",
        "einsatz": "Einsatz",
        "kind": "Art",
        "days": "Tage",
        "cases": "Fälle",
        "offered": "Termine angeboten",
        "booked": "gebucht",
        "no_show": "nicht erschienen",
        "walk_in": "ohne Termin",
        "utilisation": "Auslastung",
        "cost_per_case": "Kosten je Fall (€)",
        "none": "Keine Einsätze im Zeitraum.",
        "per_month": "Fälle je Monat (alle Kanäle)",
        "per_month_alt": "Liniendiagramm der Fälle je Monat; die Werte stehen in der Tabelle",
        "gaps": "Lücken in den Diagrammen: kleine Zahlen werden nicht ausgewiesen.",
        "month": "Monat",
        "by_channel": "Fälle je Monat und Kanal",
        "by_channel_alt": "Gestapelte Balken: Fälle je Monat nach Kanal",
        "places": "Einsatzorte",
        "places_alt": "Karte der Einsatzorte, Kreisfläche nach Fällen; die Werte stehen in der "
        "Tabelle der Einsätze",
        "utilisation_alt": "Balken: Auslastung der angebotenen Termine je Einsatz; die Werte "
        "stehen in der Tabelle der Einsätze",
        "bad": "Das ging nicht",
    },
    "en": {
        "title": "Evaluation",
        "window": "Period",
        "from": "from",
        "to": "to",
        "show": "Show",
        "pdf": "Evaluation after one year (PDF)",
        "files": "Cases per month, channel and service as a file",
        "summary": "{n} Einsätze, {cases} cases.",
        "hidden": "Counts below {n} are not shown (<).",
        "einsaetze": "Einsätze",
        "einsatz": "Einsatz",
        "kind": "Kind",
        "days": "Days",
        "cases": "Cases",
        "offered": "Slots offered",
        "booked": "booked",
        "no_show": "no-show",
        "walk_in": "walk-in",
        "utilisation": "Utilisation",
        "cost_per_case": "Cost per case (€)",
        "none": "No Einsätze in this period.",
        "per_month": "Cases per month (all channels)",
        "per_month_alt": "Line chart of cases per month; the figures are in the table",
        "gaps": "Gaps in the charts: small numbers are not shown.",
        "month": "Month",
        "by_channel": "Cases per month and channel",
        "by_channel_alt": "Stacked bars: cases per month by channel",
        "places": "Places",
        "places_alt": "Map of the places, circle area by cases; the figures are in the table of "
        "Einsätze",
        "utilisation_alt": "Bars: utilisation of offered slots per Einsatz; the figures are in "
        "the table of Einsätze",
        "bad": "That did not work",
    },
}


def _fmt(value: Any) -> str:
    if value is None:
        return "<"
    return f"{value:,}".replace(",", "\u202f") if isinstance(value, int) else f"{value:g}"


def _pct(value: float | None) -> str:
    return "<" if value is None else f"{100 * value:.0f} %"


def page(settings: Any) -> hub.ConsolePage:
    return hub.ConsolePage(
        "evaluation",
        "/evaluation",
        {"de": WORDS["de"]["title"], "en": WORDS["en"]["title"]},
        "records:read",
        _router(settings),
    )


def _router(settings: Any) -> APIRouter:
    api = APIRouter()
    reader = Depends(hub.console_view("records:read"))

    def window(view: hub.ConsoleView, first: date | None, last: date | None) -> Any:
        try:
            return checked_window(first, last)
        except hub.IntakeRejected as exc:
            t = WORDS[view.lang]
            problem = exc.problems[0]
            return view.page(
                t["title"], "", status_code=422,
                error=f"{t['bad']}: {problem.field}: {problem.message}",
            )  # fmt: skip

    @api.get("/")
    def figures(
        view: hub.ConsoleView = reader,
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        t = WORDS[view.lang]
        found = window(view, first, last)
        if isinstance(found, Response):
            return found
        start, end = found
        h = view.request.app.state.hub
        year = evaluation(
            h.store, all_einsaetze(h), first=start, last=end,
            ars_patterns=view.client.municipalities, threshold=settings(h).min_cell,
        )  # fmt: skip
        _, months = cases_report(
            h.store, period="month", by=[], first=start, last=end,
            ars_patterns=view.client.municipalities, threshold=settings(h).min_cell,
        )  # fmt: skip
        html = PAGE.render(
            t=t, figures=year, months=months, first=start.isoformat(), last=end.isoformat(),
            kinds=KIND_WORDS, fmt=_fmt, pct=_pct,
        )  # fmt: skip
        return view.page(t["title"], html)

    @api.get("/charts/{name}.svg")
    def chart(
        name: str,
        view: hub.ConsoleView = reader,
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        if name not in ("cases-per-month", "cases-by-channel", "places", "utilisation"):
            return Response(status_code=404)
        found = window(view, first, last)
        if isinstance(found, Response):
            return found
        h = view.request.app.state.hub
        figure = draw(h, name, view.client.municipalities, *found, settings(h).min_cell)
        return Response(charts.render(figure, "svg"), media_type=charts.FORMATS["svg"])

    @api.get("/cases.{fmt}")
    def cases_file(
        fmt: str,
        view: hub.ConsoleView = reader,
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        """The cases report per month, channel and service as XLSX, ODS or CSV."""
        if fmt not in FORMATS:
            return Response(status_code=404)
        found = window(view, first, last)
        if isinstance(found, Response):
            return found
        h = view.request.app.state.hub
        dims = ["channel", "leika"]
        cells, totals = cases_report(
            h.store, period="month", by=dims, first=found[0], last=found[1],
            ars_patterns=view.client.municipalities, threshold=settings(h).min_cell,
        )  # fmt: skip
        header, rows = table(cells, dims, totals, "cases")
        view.audit("evaluation.export", None, f"cases.{fmt} {found[0]}..{found[1]}")
        return Response(
            as_file(header, rows, fmt, "cases"),
            media_type=FORMATS[fmt],
            headers={"Content-Disposition": f'attachment; filename="{filename("cases", fmt)}"'},
        )

    @api.get("/evaluation.pdf")
    def pdf(
        view: hub.ConsoleView = reader,
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        found = window(view, first, last)
        if isinstance(found, Response):
            return found
        h = view.request.app.state.hub
        view.audit("evaluation.pdf", None, f"{found[0]}..{found[1]}")
        content = evaluation_report(h, [], view.client.municipalities, *found, settings)
        return Response(
            content,
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="evaluation.pdf"'},
        )

    return api


__all__ = ["page"]
