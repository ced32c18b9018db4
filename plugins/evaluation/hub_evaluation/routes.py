"""``GET /v1/reports/cases``: the cases report for API clients (JSON or CSV), scoped to the
client's municipalities."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

import hub
from hub import ClientConfig, from_rejection, require_client
from hub_evaluation.report import as_csv, cases_report, delivery_times, public, window


def router(h: Any, settings: Callable[[Any], Any], dimensions: Callable[[str], list[str]]):
    api = APIRouter(prefix="/v1/reports", tags=["reports"])
    read = Depends(require_client("records:read"))

    def asked(by: str, first: date | None, last: date | None) -> tuple[list[str], date, date]:
        """The dimensions and the window a report asks for, checked (field and rule)."""
        dims = dimensions(by)
        start, end = window(first, last)
        if end < start:
            raise hub.IntakeRejected.one("to", "order", "must not be before from")
        if (end - start).days > 3 * 366:
            raise hub.IntakeRejected.one("to", "range", "at most three years")
        return dims, start, end

    @api.get("/cases", responses={200: {"content": {"text/csv": {}}}, 400: {}, 422: {}})
    def cases(
        client: ClientConfig = read,
        period: Literal["day", "week", "month", "year"] = "month",
        by: Annotated[str, Query(max_length=100)] = "channel",
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
        format: Literal["json", "csv"] = "json",
    ) -> Any:
        """Cases per period and dimension (ars, channel, leika, einsatz, age_band) of the
        client's municipalities: received, delivered, dead-lettered, retries. Counts below
        ``[plugins.evaluation] min_cell`` are not shown (null, ``suppressed``), nor one more in
        a period where only one is hidden, nor a period total below it."""
        try:
            dims, start, end = asked(by, first, last)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        min_cell = settings(h).min_cell
        found, totals = cases_report(
            h.store,
            period=period,
            by=dims,
            first=start,
            last=end,
            ars_patterns=client.municipalities,
            threshold=min_cell,
        )
        if format == "csv":
            return Response(as_csv(found, dims, totals), media_type="text/csv; charset=utf-8")
        return {
            "period": period,
            "by": dims,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "min_cell": min_cell,
            "cells": [public(c, dims) for c in found],
            "totals": totals,
        }

    @api.get("/delivery-times", responses={400: {}, 422: {}})
    def times(
        client: ClientConfig = read,
        period: Literal["day", "week", "month", "year"] = "month",
        by: Annotated[str, Query(max_length=100)] = "channel",
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> Any:
        """Minutes from intake to delivery per period and dimension: median and 90th
        percentile (nearest rank) of the delivered cases; no figures for a cell of fewer than
        ``min_cell`` delivered cases."""
        try:
            dims, start, end = asked(by, first, last)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        min_cell = settings(h).min_cell
        found = delivery_times(
            h.store,
            period=period,
            by=dims,
            first=start,
            last=end,
            ars_patterns=client.municipalities,
            threshold=min_cell,
        )
        return {
            "period": period,
            "by": dims,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "min_cell": min_cell,
            "cells": [
                {
                    "period": t.period,
                    **dict(zip(dims, t.keys, strict=True)),
                    "delivered": t.delivered if t.delivered >= min_cell else None,
                    "median_minutes": t.median_minutes,
                    "p90_minutes": t.p90_minutes,
                }
                for t in found
            ],
        }

    return api


__all__ = ["router"]
