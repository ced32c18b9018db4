"""HTTP: planning (clients with ``records:write`` for their municipalities) and publishing
(iCal and GeoJSON, public: they hold nothing personal)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import hub
from hub import (
    ClientConfig,
    field_problems,
    from_rejection,
    may_act_for,
    parse_json_object,
    require_client,
)
from hub_mobile_office.feeds import geojson, ical
from hub_mobile_office.model import Einsatz

ArsQuery = Annotated[str, Query(pattern=r"^[0-9]{2,12}$", description="ARS or a prefix")]


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


def _answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {} for code in codes}


def router(h: Any, state: Any) -> APIRouter:
    api = APIRouter(prefix="/v1/mobile-office", tags=["mobile office"])
    read = Depends(require_client("records:read"))
    write = Depends(require_client("records:write"))

    def span(first: date | None, days: int) -> tuple[date, date]:
        start = first or date.today()
        return start, start + timedelta(days=days - 1)

    @api.post("/einsaetze", status_code=201, responses=_answers(403, 409, 422))
    async def create(request: Request, client: ClientConfig = write) -> Any:
        """Plan an Einsatz (body: an Einsatz)."""
        import anyio

        try:
            einsatz = Einsatz.model_validate(parse_json_object(await request.body()))
            if not may_act_for(client, einsatz.place.ars):
                raise hub.IntakeRejected.one(
                    "place.ars", "municipality", "not one of your municipalities", status_code=403
                )
            made = await anyio.to_thread.run_sync(
                lambda: state(h).create(einsatz, created_by=client.name)
            )
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        except ValidationError as exc:
            return from_rejection(hub.IntakeRejected(field_problems(exc.errors())))
        return JSONResponse(made, status_code=201)

    @api.put("/einsaetze/{einsatz_id}", responses=_answers(403, 404, 409, 422))
    async def change(einsatz_id: str, request: Request, client: ClientConfig = write) -> Any:
        """Replace the plan of a planned Einsatz (the same rules as planning it)."""
        import anyio

        try:
            einsatz = Einsatz.model_validate(parse_json_object(await request.body()))
            found = await anyio.to_thread.run_sync(lambda: state(h).summary(einsatz_id))
            for ars in (found["place"]["ars"], einsatz.place.ars):
                if not may_act_for(client, ars):
                    raise hub.IntakeRejected.one(
                        "place.ars",
                        "municipality",
                        "not one of your municipalities",
                        status_code=403,
                    )
            return await anyio.to_thread.run_sync(lambda: state(h).change(einsatz_id, einsatz))
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        except ValidationError as exc:
            return from_rejection(hub.IntakeRejected(field_problems(exc.errors())))

    @api.get("/einsaetze")
    def upcoming(
        client: ClientConfig = read,
        ars: ArsQuery = "05",
        first: Annotated[date | None, Query(alias="from")] = None,
        days: Annotated[int, Query(ge=1, le=400)] = 60,
    ) -> Any:
        """The planned days (staff and devices included: for planners)."""
        start, end = span(first, days)
        items = []
        for o in state(h).occurrences(start, end, ars):
            if may_act_for(client, o.einsatz.place.ars):
                items.append({**o.public(), "staff": o.einsatz.staff, "devices": o.einsatz.devices})
        return {"items": items}

    def visible(einsatz_id: str, client: ClientConfig) -> dict[str, Any]:
        """The Einsatz, if it is one of the client's municipalities' (404 otherwise)."""
        found = state(h).summary(einsatz_id)
        if not may_act_for(client, found["place"]["ars"]):
            raise hub.IntakeRejected.one("einsatz", "unknown", "no such Einsatz", status_code=404)
        return found

    @api.get("/einsaetze/{einsatz_id}", responses=_answers(404))
    def show(einsatz_id: str, client: ClientConfig = read) -> Any:
        try:
            return visible(einsatz_id, client)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)

    @api.get("/einsaetze/{einsatz_id}/bookings", responses=_answers(404))
    def bookings(einsatz_id: str, client: ClientConfig = read) -> Any:
        """The Einsatz's bookings in the hub's slot book, for the office: who comes when,
        and — after a cancellation — whom to call (contact data is kept until the day is
        over)."""
        try:
            visible(einsatz_id, client)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)
        return {"einsatz": einsatz_id, "items": state(h).slots.bookings(einsatz_id)}

    @api.post("/einsaetze/{einsatz_id}/cancel", responses=_answers(404, 409))
    def cancel(einsatz_id: str, body: CancelIn, client: ClientConfig = write) -> Any:
        """Cancel an Einsatz; its days leave the feeds at once and its bookings are cancelled
        (the appointments plugin tells the records; the office has the call list)."""
        try:
            visible(einsatz_id, client)
            return state(h).cancel(einsatz_id, body.reason)
        except hub.IntakeRejected as exc:
            return from_rejection(exc)

    @api.get(
        "/{ars}.ics",
        response_class=Response,
        responses={
            200: {
                "description": "An iCalendar feed",
                "content": {"text/calendar": {"schema": {"type": "string"}}},
            }
        },
    )
    def feed(
        ars: Annotated[str, Path(pattern=r"^[0-9]{2,12}$")],
        request: Request,
        days: Annotated[int, Query(ge=1, le=400)] = 180,
    ) -> Response:
        """iCalendar feed of the municipality's (or region's) mobile offices — public."""
        start, end = span(None, days)
        body = ical(
            state(h).occurrences(start, end, ars),
            name=f"Mobile Bürgerbüros {ars}",
            host=request.url.hostname or "hub",
        )
        return Response(body, media_type="text/calendar; charset=utf-8")

    @api.get(
        "/{ars}.geojson",
        response_class=Response,
        responses={
            200: {
                "description": "A GeoJSON FeatureCollection",
                "content": {"application/geo+json": {"schema": {"type": "object"}}},
            }
        },
    )
    def places(
        ars: Annotated[str, Path(pattern=r"^[0-9]{2,12}$")],
        days: Annotated[int, Query(ge=1, le=400)] = 180,
    ) -> Response:
        """GeoJSON of the places with their coming dates, for maps — public."""
        import json

        start, end = span(None, days)
        return Response(
            json.dumps(geojson(state(h).occurrences(start, end, ars))),
            media_type="application/geo+json",
        )

    return api


__all__ = ["router"]
