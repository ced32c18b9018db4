"""Passport and ID-card applications from a Bürgerkoffer.

``POST /v1/koffer/applications`` takes a hub submission from a device: its channel is the koffer,
its municipality the device's, its location names the device and where it stood, and its
attachments refer to completed uploads of one case. The enricher :func:`check` enforces all of
that for every passport/ID-card record captured by a koffer, whichever way it arrives: each
referenced upload is complete, the device's own, of the declared size and SHA-256, and is what
its purpose requires (photo, two fingerprints, signature), judged by its bytes.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

import hub
from hub import (
    FieldProblem,
    IntakeRejected,
    field_problems,
    from_rejection,
    parse_json_object,
    problem,
)
from hub_bundesdruckerei import checks
from hub_bundesdruckerei.attachments import NAME as BACKEND
from hub_bundesdruckerei.store import KofferStore

# Reisepass, Personalausweis and the other identity documents (LeiKa prefixes).
SERVICES = ("99008001012", "99085001012", "99085003012")
REQUIRED = {"photo": 1, "fingerprint": 2, "signature": 1}
DEVICE_CLIENT = "koffer:"


def is_identity_document(record: hub.Record) -> bool:
    return record.service.leika_key.startswith(SERVICES)


def _problem(index: int, attachment: hub.Attachment, rule: str, message: str) -> FieldProblem:
    return FieldProblem(
        f"attachments[{index}]", rule, f"{attachment.purpose} {attachment.id}: {message}"
    )


def check(record: hub.Record, ctx: hub.EnrichContext, store: KofferStore) -> None:
    """Enricher: what a device submits may reference its own uploads only (whatever the
    service); a passport/ID-card application must also stand on complete, intact, genuine
    uploads of the submitting device."""
    if record.channel.value != "koffer":
        return
    if not ctx.client.startswith(DEVICE_CLIENT):
        if is_identity_document(record):
            raise IntakeRejected.one(
                "channel", "device", "koffer applications come from a registered device"
            )
        return
    device = ctx.client[len(DEVICE_CLIENT) :]
    if not is_identity_document(record):
        foreign = [
            _problem(i, a, "upload", "no such upload of this device")
            for i, a in enumerate(record.attachments)
            if (upload := store.get(a.id)) is None or upload.device != device
        ]
        if foreign:
            raise IntakeRejected(foreign)
        return
    problems: list[FieldProblem] = []
    counts = Counter(a.purpose for a in record.attachments)
    for purpose, needed in REQUIRED.items():
        if counts[purpose] != needed:
            problems.append(
                FieldProblem(
                    "attachments",
                    "required",
                    f"needs {needed} {purpose} attachment(s), has {counts[purpose]}",
                )
            )
    cases = set()
    for index, attachment in enumerate(record.attachments):
        upload = store.get(attachment.id)
        if upload is None or upload.device != device:
            problems.append(_problem(index, attachment, "upload", "no such upload of this device"))
            continue
        cases.add(upload.case_id)
        if not upload.complete:
            problems.append(
                _problem(
                    index,
                    attachment,
                    "complete",
                    f"the upload is at {upload.offset} of {upload.length} bytes",
                )
            )
            continue
        if upload.purpose != attachment.purpose:
            problems.append(
                _problem(index, attachment, "purpose", f"was uploaded as {upload.purpose}")
            )
            continue
        if upload.length != attachment.size or upload.sha256 != attachment.sha256:
            problems.append(
                _problem(index, attachment, "sha256", "size or SHA-256 differ from the upload's")
            )
            continue
        try:
            verdict = _inspect(store, upload, attachment)
        except checks.NotAcceptable as exc:
            problems.append(_problem(index, attachment, exc.rule, str(exc)))
            continue
        if verdict.media_type != attachment.media_type:
            problems.append(
                _problem(
                    index,
                    attachment,
                    "media_type",
                    f"is {verdict.media_type}, declared {attachment.media_type}",
                )
            )
    if len(cases) > 1:
        problems.append(
            FieldProblem(
                "attachments", "one_case", "all uploads of an application belong to one case"
            )
        )
    if problems:
        raise IntakeRejected(problems)


def _inspect(store: KofferStore, upload: Any, attachment: hub.Attachment) -> checks.Verdict:
    rules = store.settings.photo
    with store.reader(upload) as raw, io.BufferedReader(raw, 1 << 16) as stream:
        if attachment.purpose == "photo":
            return checks.photo(stream, rules)
        if attachment.purpose == "fingerprint":
            return checks.fingerprint(stream, upload.length, rules.max_pixels)
        if attachment.purpose == "signature":
            return checks.signature(stream, rules.max_pixels)
        return checks.Verdict(attachment.media_type, "document")


def _device(store: KofferStore, request: Request) -> Any:
    """The active device behind the request's bearer credential, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return store.authenticate(token.strip())


def _unauthorized() -> Response:
    return problem(
        401,
        "Unauthorized",
        "a device credential is required",
        kind="unauthorized",
        headers={"WWW-Authenticate": "Bearer"},
    )


def router(h: Any, state: Any) -> APIRouter:
    api = APIRouter(prefix="/v1/koffer", tags=["koffer"])

    @api.post(
        "/applications",
        status_code=202,
        responses={422: {"description": "An attachment or field breaks a rule (named)"}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "A submission of this device's municipality; channel and "
                "location.device_id are set by the hub",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Submission"}}
                },
            }
        },
    )
    async def submit(request: Request) -> Response:
        """A passport or ID-card application captured by the calling device."""
        import anyio

        store: KofferStore = state()
        device = await anyio.to_thread.run_sync(_device, store, request)
        if device is None:
            return _unauthorized()
        body = await request.body()
        if len(body) > h.config.server.max_body_bytes:
            return problem(413, "Too large", "the application is too large", kind="too-large")
        try:
            data = parse_json_object(body)
            data["channel"] = "koffer"
            sub = hub.Submission.model_validate(data)
        except IntakeRejected as exc:
            return from_rejection(exc)
        except ValidationError as exc:
            return from_rejection(IntakeRejected(field_problems(exc.errors())))
        location = sub.location or hub.Location()
        if location.device_id not in (None, device.name):
            return from_rejection(
                IntakeRejected.one("location.device_id", "device", "must name the calling device")
            )
        sub.location = location.model_copy(update={"device_id": device.name})
        if sub.municipality.ars != device.municipality:
            return from_rejection(
                IntakeRejected.one(
                    "municipality.ars",
                    "device_municipality",
                    f"this device serves {device.municipality} only",
                    status_code=403,
                )
            )
        key = request.headers.get("idempotency-key")

        def accept() -> Any:
            # The uploads become the record's attachments in the record's own transaction;
            # their bytes stay encrypted where they are (the koffer attachment backend).
            files = [
                h.attachments.stage_held(
                    a, backend=BACKEND, ref=a.id, source=f"{DEVICE_CLIENT}{device.name}"
                )
                for a in sub.attachments
            ]
            return h.intake.submit(
                sub, client=f"{DEVICE_CLIENT}{device.name}", idempotency_key=key, files=files
            )

        try:
            accepted = await anyio.to_thread.run_sync(accept)
        except IntakeRejected as exc:
            return from_rejection(exc)
        for attachment in sub.attachments[:1]:  # one case per application (the enricher checked)
            upload = await anyio.to_thread.run_sync(store.get, attachment.id)
            if upload is not None and upload.device == device.name:  # checked at intake too
                await anyio.to_thread.run_sync(
                    store.bind_record, upload.case_id, accepted.record_id
                )
        return JSONResponse(
            {"id": accepted.record_id, "status": "accepted"},
            status_code=202,
            headers={"Location": f"/v1/koffer/applications/{accepted.record_id}"},
        )

    @api.get("/applications/{record_id}")
    def status(record_id: str, request: Request) -> Response:
        """Where an application of the calling device stands (status and history, no data)."""
        device = _device(state(), request)
        if device is None:
            return _unauthorized()
        record = h.store.get_record(record_id)
        if record is None or (record.location and record.location.device_id) != device.name:
            return problem(404, "Not found", "no such application", kind="http-404")
        return JSONResponse(
            {
                "id": record_id,
                "status": record.status.value,
                "history": [{"at": e.at.isoformat(), "status": e.status} for e in record.history],
            }
        )

    return api


__all__ = ["SERVICES", "check", "is_identity_document", "router"]
