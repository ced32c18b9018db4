"""``/v1/reports``: the reports for API clients — JSON, CSV, XLSX or ODS, charts as SVG or
PNG, the one-year evaluation as PDF — scoped to the client's municipalities; cost inputs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

import hub
from hub import ClientConfig, from_rejection, require_client, utcnow
from hub_evaluation import charts, tables
from hub_evaluation.export import FORMATS, as_file, filename
from hub_evaluation.pdf import evaluation_pdf
from hub_evaluation.report import (
    APPOINTMENT_DIMENSIONS,
    DIMENSIONS,
    appointments_report,
    cases_report,
    costs_report,
    delivery_times,
    public,
    table,
    window,
)
from hub_evaluation.yearly import evaluation, places

Period = Literal["day", "week", "month", "year"]
Format = Literal["json", "csv", "xlsx", "ods"]
ARS = r"^[0-9]{12}$"
CHANNELS = ("portal", "koffer", "buergermobil", "popup", "home_visit", "counter", "api")


class CostIn(BaseModel):
    """Costs of one Einsatz, or of one channel of a municipality, over some days."""

    model_config = ConfigDict(extra="forbid")
    first_day: date
    last_day: date
    ars: Annotated[str, Field(pattern=ARS)]
    einsatz_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,36}$")] | None = None
    channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]
    staff_hours: float = Field(default=0, ge=0, le=100_000)
    hourly_rate_eur: float = Field(default=0, ge=0, le=1_000)
    travel_eur: float = Field(default=0, ge=0, le=10_000_000)
    kit_eur: float = Field(default=0, ge=0, le=10_000_000)
    other_eur: float = Field(default=0, ge=0, le=10_000_000)
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_scope(self) -> CostIn:
        if (self.einsatz_id is None) == (self.channel is None):
            raise ValueError("name either einsatz_id or channel")
        if self.last_day < self.first_day:
            raise ValueError("last_day must not be before first_day")
        return self


def dimensions(value: str, known: dict[str, Any]) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in known]
    if bad or len(set(names)) != len(names):
        raise hub.IntakeRejected.one(
            "by", "choice", f"a comma-separated list of {', '.join(known)}"
        )
    return names


def checked_window(first: date | None, last: date | None) -> tuple[date, date]:
    start, end = window(first, last)
    if end < start:
        raise hub.IntakeRejected.one("to", "order", "must not be before from")
    if (end - start).days > 3 * 366:
        raise hub.IntakeRejected.one("to", "range", "at most three years")
    return start, end


def router(h: Any, settings: Callable[[Any], Any]) -> APIRouter:
    api = APIRouter(prefix="/v1/reports", tags=["reports"])
    read = Depends(require_client("records:read"))
    admin = Depends(require_client("admin"))
    files = {200: {"content": {m: {} for m in FORMATS.values()}}, 400: {}, 422: {}}

    def tabular(
        name: str,
        known: dict[str, Any],
        run: Callable[..., Any],
        total_of: str,
        scope: list[str],
        period: str,
        by: str,
        window: tuple[date | None, date | None],
        fmt: str,
    ) -> Any:
        """A table report as JSON or a file: dimensions and window checked (field, rule)."""
        try:
            dims = dimensions(by, known)
            start, end = checked_window(*window)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        cells, totals = run(
            h.store, period=period, by=dims, first=start, last=end, ars_patterns=scope,
            threshold=settings(h).min_cell,
        )  # fmt: skip
        if fmt != "json":
            header, rows = table(cells, dims, totals, total_of)
            return Response(
                as_file(header, rows, fmt, name),
                media_type=FORMATS[fmt],
                headers={"Content-Disposition": f'attachment; filename="{filename(name, fmt)}"'},
            )
        return {
            "period": period,
            "by": dims,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "min_cell": settings(h).min_cell,
            "cells": [public(c, dims) for c in cells],
            "totals": totals,
        }

    @api.get("/cases", responses=files)
    def cases(
        client: ClientConfig = read,
        period: Period = "month",
        by: Annotated[str, Query(max_length=100)] = "channel",
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
        format: Format = "json",
    ) -> Any:
        """Cases per period and dimension (ars, channel, leika, einsatz, age_band) of the
        client's municipalities: received, delivered, with the back office's final status,
        end to end electronically, dead-lettered, retries. Counts below ``[plugins.evaluation]
        min_cell`` are not shown (null, ``suppressed``), nor one more in a period where only
        one is hidden, nor a period total below it."""
        return tabular("cases", DIMENSIONS, cases_report, "cases", client.municipalities,
                       period, by, (first, last), format)  # fmt: skip

    @api.get("/appointments", responses=files)
    def appointments(
        client: ClientConfig = read,
        period: Period = "month",
        by: Annotated[str, Query(max_length=100)] = "office",
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
        format: Format = "json",
    ) -> Any:
        """Appointments per period and dimension (ars, office, channel, leika): booked,
        cancelled, attended, no-show, walk-ins; by ars or office also the slots Einsätze
        offered and their utilisation. Small cells suppressed like the cases report."""
        return tabular("appointments", APPOINTMENT_DIMENSIONS, appointments_report, "booked",
                       client.municipalities, period, by, (first, last), format)  # fmt: skip

    @api.get("/delivery-times", responses={400: {}, 422: {}})
    def times(
        client: ClientConfig = read,
        period: Period = "month",
        by: Annotated[str, Query(max_length=100)] = "channel",
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
        until: Literal["delivered", "final"] = "delivered",
    ) -> Any:
        """Minutes from intake to delivery (``until=delivered``) or to the back office's
        final status (``until=final``) per period and dimension: median and 90th percentile
        (nearest rank); no figures for a cell of fewer than ``min_cell`` cases."""
        try:
            dims = dimensions(by, DIMENSIONS)
            start, end = checked_window(first, last)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        min_cell = settings(h).min_cell
        found = delivery_times(
            h.store, period=period, by=dims, first=start, last=end,
            ars_patterns=client.municipalities, threshold=min_cell, until=until,
        )  # fmt: skip
        return {
            "period": period,
            "by": dims,
            "until": until,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "min_cell": min_cell,
            "cells": [
                {
                    "period": t.period,
                    **dict(zip(dims, t.keys, strict=True)),
                    "cases": t.delivered if t.delivered >= min_cell else None,
                    "median_minutes": t.median_minutes,
                    "p90_minutes": t.p90_minutes,
                }
                for t in found
            ],
        }

    @api.get("/costs", responses={400: {}, 422: {}})
    def costs(
        client: ClientConfig = read,
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> Any:
        """Cost per case per Einsatz (or channel of a municipality) from the cost inputs:
        each entry in the share of its days within the window, over the cases it served."""
        try:
            start, end = checked_window(first, last)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        found = costs_report(
            h.store, first=start, last=end, ars_patterns=client.municipalities,
            threshold=settings(h).min_cell,
        )  # fmt: skip
        return {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "lines": [
                {**line.scope, "staff_hours": line.staff_hours, "cost_eur": line.cost_eur,
                 "cases": line.cases, "cost_per_case_eur": line.cost_per_case_eur}
                for line in found
            ],
        }  # fmt: skip

    @api.post("/costs", status_code=201, responses={403: {}, 422: {}})
    def enter_cost(body: CostIn, client: ClientConfig = admin) -> Any:
        """Enter costs (staff hours and rate, travel, kit, other) for an Einsatz or a
        channel of one of the client's municipalities."""
        if not hub.may_act_for(client, body.ars):
            return from_rejection(
                hub.IntakeRejected.one("ars", "scope", "not one of yours", status_code=403)
            )
        return add_cost(h, body, client.name)

    @api.get(
        "/charts/{name}.{fmt}",
        responses={200: {"content": {m: {} for m in charts.FORMATS.values()}}, 404: {}, 422: {}},
    )
    def chart(
        name: Literal["cases-per-month", "cases-by-channel", "places", "utilisation"],
        fmt: Literal["svg", "png"],
        client: ClientConfig = read,
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> Any:
        """A chart of the reports (only what they show: a hidden cell is a gap)."""
        try:
            start, end = checked_window(first, last)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        figure = draw(h, name, client.municipalities, start, end, settings(h).min_cell)
        return Response(charts.render(figure, fmt), media_type=charts.FORMATS[fmt])

    @api.get("/evaluation.pdf", responses={200: {"content": {"application/pdf": {}}}, 422: {}})
    def one_year(
        client: ClientConfig = read,
        einsatz: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> Any:
        """ "Evaluation nach einem Jahr" as PDF for the given Einsätze (all the client's
        Einsätze when none are named), by default over the last 365 days."""
        try:
            start, end = checked_window(first, last)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        content = evaluation_report(h, einsatz, client.municipalities, start, end, settings)
        return Response(
            content,
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="evaluation.pdf"'},
        )

    return api


def add_cost(h: Any, body: CostIn, by: str) -> dict[str, Any]:
    row = {"id": str(uuid.uuid4()), **body.model_dump(), "entered_by": by, "entered_at": utcnow()}
    with h.store.transaction() as conn:
        conn.execute(tables.costs.insert().values(row))
    return {**row, "first_day": body.first_day.isoformat(), "last_day": body.last_day.isoformat(),
            "entered_at": row["entered_at"].isoformat()}  # fmt: skip


def all_einsaetze(h: Any) -> list[str]:
    from sqlalchemy import select

    with h.store.reading() as conn:
        return list(conn.execute(select(tables.einsaetze.c.einsatz_id)).scalars())


def evaluation_report(
    h: Any, einsaetze: list[str], scope: list[str], start: date, end: date, settings: Any
) -> bytes:
    figures = evaluation(
        h.store, einsaetze or all_einsaetze(h), first=start, last=end, ars_patterns=scope,
        threshold=settings(h).min_cell,
    )  # fmt: skip
    return evaluation_pdf(
        figures,
        title="Evaluation der mobilen Bürgerdienste nach einem Jahr",
        generated=date.today(),
    )


def draw(h: Any, name: str, scope: list[str], start: date, end: date, min_cell: int) -> Any:
    """The chart ``name`` over the window, from the suppressed reports."""
    common = {"first": start, "last": end, "ars_patterns": scope, "threshold": min_cell}
    if name == "cases-per-month":
        cells, totals = cases_report(h.store, period="month", by=[], **common)
        return charts.line(totals, "Fälle je Monat (alle Kanäle)", "Fälle")
    if name == "cases-by-channel":
        cells, _ = cases_report(h.store, period="month", by=["channel"], **common)
        rows = [public(c, ["channel"]) for c in cells]
        return charts.stacked_bars(rows, "channel", "cases", "Fälle je Monat und Kanal")
    if name == "utilisation":
        cells, _ = appointments_report(h.store, period="all", by=["office"], **common)
        names = _names(h)
        rows = [public(c, ["office"]) for c in cells if c.values.get("offered")]
        return charts.bars(
            [names.get(str(r["office"]).partition(":")[2], r["office"]) for r in rows],
            [None if r["utilisation"] is None else round(100 * r["utilisation"]) for r in rows],
            "Auslastung der angebotenen Termine",
            "%",
        )
    return charts.places(places(h.store, **common), "Einsatzorte (Kreisfläche: Fälle)")


def _names(h: Any) -> dict[str, str]:
    from sqlalchemy import select

    E = tables.einsaetze
    with h.store.reading() as conn:
        return {r.einsatz_id: r.name for r in conn.execute(select(E.c.einsatz_id, E.c.name))}


__all__ = ["CostIn", "add_cost", "checked_window", "dimensions", "draw", "router"]
