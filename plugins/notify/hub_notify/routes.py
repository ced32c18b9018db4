"""``/v1/notify``: the citizen's unsubscribe link (a page with a button, and RFC 8058's one-click
POST), bounces a mail system reports, and the letters' print queue for the office."""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

import hub
from hub import ClientConfig, problem, require_client, utcnow
from hub_notify import tables

M, L, SUB = tables.messages, tables.letters, tables.subscriptions
Token = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{16,64}$")]
# The pages are HTML, for people, including "this link is not valid" (404).
PAGES: dict[int | str, dict[str, Any]] = {404: {"content": {"text/html": {}}}, 400: {}}
PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


class BounceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_id: str = Field(min_length=3, max_length=200, description="The bounced Message-ID")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def router(h: Any) -> APIRouter:
    api = APIRouter(prefix="/v1/notify", tags=["notify"])
    admin = Depends(require_client("admin"))

    def subscription(token: str) -> Any:
        with h.store.reading() as conn:
            return conn.execute(select(SUB).where(SUB.c.token == token)).first()

    @api.get("/unsubscribe/{token}", response_class=HTMLResponse, responses=PAGES)
    def ask(token: Token) -> HTMLResponse:
        """The page behind the link in every message: one button (a GET changes nothing, so
        mail scanners that open links unsubscribe nobody)."""
        found = subscription(token)
        if found is None:
            return _page("Link ungültig", "<p>Dieser Link ist nicht (mehr) gültig.</p>", 404)
        if found.unsubscribed_at is not None:
            return _page(
                "Abgemeldet", "<p>Sie bekommen zu diesem Antrag keine Nachrichten mehr.</p>"
            )
        form = (
            "<p>Möchten Sie zu diesem Antrag keine Nachrichten mehr bekommen?</p>"
            f'<form method="post" action="/v1/notify/unsubscribe/{token}">'
            '<button type="submit">Keine Nachrichten mehr</button></form>'
        )
        return _page("Nachrichten abbestellen", form)

    @api.post("/unsubscribe/{token}", response_class=HTMLResponse, responses=PAGES)
    def unsubscribe(token: Token) -> HTMLResponse:
        """Unsubscribe (the page's button, or the mail program's one-click POST)."""
        found = subscription(token)
        if found is None:
            return _page("Link ungültig", "<p>Dieser Link ist nicht (mehr) gültig.</p>", 404)
        if found.unsubscribed_at is None:
            with h.store.transaction() as conn:
                conn.execute(
                    update(SUB).where(SUB.c.token == token).values(unsubscribed_at=utcnow())
                )
            h.report_status(found.record_id, "notify:unsubscribed", None, key="notify:unsubscribed")
        return _page("Abgemeldet", "<p>Sie bekommen zu diesem Antrag keine Nachrichten mehr.</p>")

    @api.post("/bounces", responses={403: {}, 404: {}, 422: {}})
    def bounce(body: BounceIn, client: ClientConfig = admin) -> Any:
        """A bounce the mail system reported later (by the message's Message-ID)."""
        with h.store.reading() as conn:
            found = conn.execute(
                select(M.c.record_id, M.c.event).where(M.c.message_id == body.message_id)
            ).first()
        owner = h.store.record_owner(found.record_id) if found else None
        if found is None or not hub.may_act_for(client, owner[1] if owner else ""):
            return problem(404, "Not found", "no message with this Message-ID")
        with h.store.transaction() as conn:
            conn.execute(
                update(M)
                .where(M.c.record_id == found.record_id, M.c.event == found.event)
                .values(state="bounced", updated_at=utcnow())
            )
        h.report_status(
            found.record_id, "notify:bounced", f"{found.event}: reported by the mail system",
            key=f"notify:{found.event}:bounced",
        )  # fmt: skip
        return {"record_id": found.record_id, "event": found.event, "state": "bounced"}

    @api.get("/letters", responses={403: {}})
    def letters(client: ClientConfig = admin, printed: bool = False) -> Any:
        """Letters of the client's municipalities: waiting (default) or printed."""
        query = select(L.c.id, L.c.record_id, L.c.event, L.c.ars, L.c.created_at, L.c.printed_at)
        query = query.where(
            L.c.printed_at.is_not(None) if printed else L.c.printed_at.is_(None)
        ).order_by(L.c.created_at)
        with h.store.reading() as conn:
            rows = conn.execute(query).all()
        return {
            "items": [
                {**row._mapping, "created_at": row.created_at.isoformat(),
                 "printed_at": row.printed_at.isoformat() if row.printed_at else None}
                for row in rows
                if hub.may_act_for(client, row.ars)
            ]
        }  # fmt: skip

    def letter(letter_id: str, client: ClientConfig) -> Any:
        with h.store.reading() as conn:
            found = conn.execute(select(L).where(L.c.id == letter_id)).first()
        if found is None or not hub.may_act_for(client, found.ars):
            return None
        return found

    @api.get(
        "/letters/{letter_id}.pdf",
        responses={200: {"content": {"application/pdf": {}}}, 403: {}, 404: {}},
    )
    def letter_pdf(letter_id: str, client: ClientConfig = admin) -> Response:
        found = letter(letter_id, client)
        if found is None or found.pdf is None:
            return problem(404, "Not found", "no such letter waiting to be printed")
        return Response(found.pdf, media_type="application/pdf")

    @api.post("/letters/{letter_id}/printed", responses={403: {}, 404: {}})
    def printed(letter_id: str, client: ClientConfig = admin) -> Any:
        """The office printed it: the PDF (with the address) is dropped."""
        if letter(letter_id, client) is None:
            return problem(404, "Not found", "no such letter")
        with h.store.transaction() as conn:
            conn.execute(
                update(L)
                .where(L.c.id == letter_id, L.c.printed_at.is_(None))
                .values(printed_at=utcnow(), pdf=None)
            )
        return {"id": letter_id, "printed": True}

    return api


__all__ = ["router"]
