"""HTTP: the citizen's Bestätigungscode for an Anmeldung, handed in by the portal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

import hub
from hub import ClientConfig, may_act_for, problem, require_client


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


def _instance(h: Any, record_id: str) -> str | None:
    """The xmeld adapter instance the record went to (else the first one configured)."""
    found = h.delivery_of(record_id, "xmeld")
    if found is not None:
        return found
    return next((n for n in h.config.adapters if h.config.adapter_type(n) == "xmeld"), None)


def router(h: Any) -> APIRouter:
    api = APIRouter(prefix="/v1/xmeld", tags=["xmeld"])
    write = Depends(require_client("records:write"))

    @api.post("/records/{record_id}/bestaetigungscode", status_code=202)
    def bestaetigungscode(record_id: str, body: CodeIn, client: ClientConfig = write) -> Any:
        """Send the citizen's Bestätigungscode (1706) for an Anmeldung already sent (1704).

        Committed to the hub's outbox before the answer and sent as a follow-up delivery of the
        record's xmeld adapter; the same code for the same record again is answered with the
        first message (200)."""
        from hub_xmeld.bestaetigungscode import CodeNotAccepted, enqueue_code

        owner = h.store.record_owner(record_id)
        if owner is None or not may_act_for(client, owner[1]):
            return problem(404, "Not found", "no such record", kind="http-404")
        instance = _instance(h, record_id)
        if instance is None:
            return problem(
                503, "XMeld is not configured", "no adapter of type xmeld", kind="not-ready"
            )
        record = h.store.get_record(record_id)
        try:
            uuid, new = enqueue_code(h, instance, h.adapters[instance], record, body.code)
        except CodeNotAccepted as exc:
            return problem(
                exc.status,
                "The code was not accepted",
                str(exc),
                kind="invalid" if exc.status == 422 else "conflict",
                errors=[hub.FieldProblem(exc.field, exc.rule, str(exc))],
            )
        return JSONResponse(
            {"record": record_id, "nachrichtenUUID": uuid, "state": "pending"},
            status_code=202 if new else 200,
        )

    return api
