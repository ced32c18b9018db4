"""HTTP: offices, free slots, reserve → confirm, cancel (by the citizen's link or by staff),
and the link to a record. Online bookings carry the citizen's BundID trust level when a
session exists; classic bookings are made by ServiceCenter staff for a caller."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

import hub
from hub import ClientConfig, from_rejection, may_act_for, problem, require_client
from hub_appointments.book import citizen_pseudonym

Leika = Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")]
OfficeId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Answers = Annotated[
    dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")],
        Annotated[str, StringConstraints(max_length=200)],
    ],
    Field(max_length=10, description="The citizen's values for the office's fields"),
]


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    leika: Leika
    count: int = Field(default=1, ge=1, le=9)


class ReserveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: OfficeId
    services: list[ServiceIn] = Field(min_length=1, max_length=5)
    start: datetime = Field(description="RFC 3339 with offset, one of the free slots")
    channel: Literal["online", "classic"] = "online"
    answers: Answers = Field(default_factory=dict)
    record_id: str | None = Field(default=None, max_length=36)


class WalkInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: OfficeId
    services: list[ServiceIn] = Field(min_length=1, max_length=5)
    record_id: str | None = Field(default=None, max_length=36)


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    family_name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    telephone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()/-]{5,}$")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=8, max_length=128)


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attended: bool


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record_id: str = Field(min_length=1, max_length=36)


def _answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Statuses a route answers besides success (problem+json, documented by the core)."""
    return {code: {} for code in codes}


def refused(exc: Exception) -> JSONResponse:
    """The booking system's answer, or our own refusal, as problem+json."""
    if isinstance(exc, hub.IntakeRejected):
        return from_rejection(exc)
    if isinstance(exc, hub.BookingError):
        status = exc.status if exc.status in (409, 422) else 409
        return problem(
            status,
            "The booking system refused",
            str(exc),
            kind="conflict" if status == 409 else "validation",
            errors=[hub.FieldProblem(exc.field, exc.code, str(exc))],
        )
    assert isinstance(exc, hub.TransientError)
    wait = exc.retry_after
    return problem(
        503,
        "The booking system is not reachable",
        "try again later",
        kind="not-ready",
        headers={"Retry-After": str(int(wait) + 1)} if wait is not None else {"Retry-After": "30"},
    )


def router(h: Any, state: Any) -> APIRouter:
    api = APIRouter(prefix="/v1/appointments", tags=["appointments"])
    read = Depends(require_client("records:read"))
    write = Depends(require_client("records:write"))
    errors = (hub.IntakeRejected, hub.BookingError, hub.TransientError)

    def booking() -> Any:
        found = state(h)
        if found is None:
            raise hub.IntakeRejected.one(
                "appointments", "not_configured", "no booking system is configured", status_code=503
            )
        return found

    def visible(client: ClientConfig, appointment: dict[str, Any]) -> None:
        if not may_act_for(client, appointment["ars"]):
            raise hub.IntakeRejected.one(
                "appointment", "unknown", "no such appointment", status_code=404
            )

    def login(request: Request) -> Any:
        """The identity an identity provider (BundID) vouches for in this request, if any."""
        for provider in h.registry.identity_providers.values():
            claim = provider.identify(request)
            if claim is not None and claim.identity is not None:
                return claim.identity
        return None

    def pseudonym(identity: Any) -> str | None:
        return citizen_pseudonym(identity.method, identity.bpk2) if identity.bpk2 else None

    @api.get("/offices", responses=_answers(503))
    def offices(
        client: ClientConfig = read, ars: Annotated[str | None, Query(max_length=12)] = None
    ) -> Any:
        """Offices of the booking system the hub offers, with their ARS and bookable LeiKa keys."""
        try:
            items = booking().offices(ars)
        except errors as exc:
            return refused(exc)
        return {"items": [o for o in items if may_act_for(client, o["ars"])]}

    @api.get("/slots", responses=_answers(404, 422, 503))
    def slots(
        office: Annotated[str, Query(max_length=64)],
        service: Annotated[list[str], Query(description="LEIKA or LEIKA:count")],
        first: Annotated[date, Query(alias="from")],
        last: Annotated[date, Query(alias="to")],
        answer: Annotated[
            list[str], Query(description="The office's fields as NAME:VALUE", max_length=10)
        ] = [],  # noqa: B006 - FastAPI copies it
        client: ClientConfig = read,
    ) -> Any:
        """Free start times for these services at this office (RFC 3339, UTC). Offices that
        ask fields (a home visit's reason, the district) need them here too."""
        try:
            given = {}
            for i, item in enumerate(answer):
                name, sep, value = item.partition(":")
                if not sep or not name:
                    raise hub.IntakeRejected.one(f"answer[{i}]", "format", "NAME:VALUE")
                given[name] = value
            wanted = []
            for i, item in enumerate(service):
                leika, _, count = item.partition(":")
                if not count.isdigit() and count:
                    raise hub.IntakeRejected.one(f"service[{i}]", "format", "LEIKA or LEIKA:n")
                wanted.append((leika, int(count or 1)))
            found = booking().free_slots(office, wanted, first, last, given)
        except errors as exc:
            return refused(exc)
        return {"office": office, "slots": [t.isoformat() for t in found]}

    @api.post("", status_code=201, responses=_answers(404, 409, 422, 503))
    def reserve(body: ReserveIn, request: Request, client: ClientConfig = write) -> Any:
        """Reserve a slot; it is held until ``reserved_until`` and must then be confirmed."""
        try:
            b = booking()
            if not may_act_for(client, b.place(body.office).ars):
                raise hub.IntakeRejected.one("office", "unknown", "no such office", status_code=404)
            identity = login(request) if body.channel == "online" else None
            made = b.reserve(
                body.office,
                [(s.leika, s.count) for s in body.services],
                body.start,
                channel=body.channel,
                booked_by=client.name,
                answers=body.answers,
                trust_level=identity.trust_level.value if identity else None,
                citizen=pseudonym(identity) if identity else None,
                record_id=body.record_id,
            )
        except errors as exc:
            return refused(exc)
        return JSONResponse(
            made, status_code=201, headers={"Location": f"{api.prefix}/{made['id']}"}
        )

    @api.post("/{appointment_id}/confirm", responses=_answers(404, 409, 422, 503))
    def confirm(appointment_id: str, body: ConfirmIn, client: ClientConfig = write) -> Any:
        """Confirm with the citizen's contact data (passed to the booking system, not kept).
        The answer carries the cancellation token, once."""
        if not (body.email or body.telephone):
            return from_rejection(hub.IntakeRejected.one("email", "required", "email or telephone"))
        try:
            b = booking()
            visible(client, b.get(appointment_id))
            done = b.confirm(
                appointment_id, hub.BookingContact(body.family_name, body.email, body.telephone)
            )
        except errors as exc:
            return refused(exc)
        done["cancel_url"] = f"{api.prefix}/{appointment_id}/cancel"
        done["calendar_url"] = f"{api.prefix}/{appointment_id}/calendar.ics"
        return done

    @api.post("/walk-ins", status_code=201, responses=_answers(404, 422, 503))
    def walk_in(body: WalkInIn, client: ClientConfig = write) -> Any:
        """Staff record a citizen served without an appointment (day board, evaluation)."""
        try:
            b = booking()
            if not may_act_for(client, b.place(body.office).ars):
                raise hub.IntakeRejected.one("office", "unknown", "no such office", status_code=404)
            made = b.walk_in(
                body.office,
                [(s.leika, s.count) for s in body.services],
                booked_by=client.name,
                record_id=body.record_id,
            )
        except errors as exc:
            return refused(exc)
        return JSONResponse(
            made, status_code=201, headers={"Location": f"{api.prefix}/{made['id']}"}
        )

    @api.get("/mine", responses=_answers(401, 503))
    def mine(request: Request, client: ClientConfig = read) -> Any:
        """The appointments of the citizen logged in with this request (BundID), booked
        online while logged in; coming ones first."""
        identity = login(request)
        key = pseudonym(identity) if identity else None
        if key is None:
            return problem(
                401,
                "Not logged in",
                "this list needs the citizen's login (BundID)",
                kind="unauthorized",
            )
        try:
            items = booking().mine(key)
        except errors as exc:
            return refused(exc)
        return {"items": [a for a in items if may_act_for(client, a["ars"])]}

    @api.get(
        "/{appointment_id}/calendar.ics",
        responses={200: {"content": {"text/calendar": {}}}, **_answers(404, 409, 503)},
        response_class=Response,
    )
    def calendar(appointment_id: str, client: ClientConfig = read) -> Any:
        """The appointment as iCalendar (RFC 5545) for the citizen's calendar; a cancelled
        one comes with STATUS:CANCELLED and the same UID, so calendars drop it."""
        try:
            b = booking()
            visible(client, b.get(appointment_id))
            body = b.calendar(appointment_id)
        except errors as exc:
            return refused(exc)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="termin-{appointment_id}.ics"'},
        )

    @api.post("/{appointment_id}/cancel", responses=_answers(403, 404, 409, 503))
    def cancel_by_link(appointment_id: str, body: CancelIn) -> Any:
        """The citizen's cancellation link: the token is the credential, valid until the start."""
        try:
            return booking().cancel(appointment_id, token=body.token)
        except errors as exc:
            return refused(exc)

    @api.delete("/{appointment_id}", responses=_answers(404, 409, 503))
    def cancel_by_staff(appointment_id: str, client: ClientConfig = write) -> Any:
        """Staff cancel an appointment (a caller asked the ServiceCenter)."""
        try:
            b = booking()
            visible(client, b.get(appointment_id))
            return b.cancel(appointment_id, token=None, staff=True)
        except errors as exc:
            return refused(exc)

    @api.post("/{appointment_id}/attendance", responses=_answers(404, 409, 503))
    def attendance(appointment_id: str, body: AttendanceIn, client: ClientConfig = write) -> Any:
        """Staff record, once it has begun, whether the citizen came (attended, no_show)."""
        try:
            b = booking()
            visible(client, b.get(appointment_id))
            return b.attendance(appointment_id, attended=body.attended)
        except errors as exc:
            return refused(exc)

    @api.get("/{appointment_id}", responses=_answers(404, 503))
    def show(appointment_id: str, client: ClientConfig = read) -> Any:
        try:
            found = booking().get(appointment_id)
            visible(client, found)
        except errors as exc:
            return refused(exc)
        return found

    @api.put("/{appointment_id}/record", responses=_answers(404, 503))
    def link(appointment_id: str, body: LinkIn, client: ClientConfig = write) -> Any:
        """The record this appointment belongs to (a koffer or pop-up case it brought)."""
        try:
            b = booking()
            visible(client, b.get(appointment_id))
            owner = h.store.record_owner(body.record_id)
            if owner is None or not may_act_for(client, owner[1]):
                raise hub.IntakeRejected.one(
                    "record_id", "unknown", "no such record", status_code=404
                )
            return b.link(appointment_id, body.record_id)
        except errors as exc:
            return refused(exc)

    return api


__all__ = ["router"]
