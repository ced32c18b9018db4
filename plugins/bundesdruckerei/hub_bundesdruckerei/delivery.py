"""Delivery to the passport/ID back office (the municipality's passport software) and its status
callbacks; destruction of the biometric data once receipt is confirmed, or when retention ends.

The ``passport_office`` adapter streams the package of :mod:`hub_bundesdruckerei.package`:
attachments are decrypted segment by segment on their way out, never held whole. Settings are
mutual-TLS-ready (client certificate and key, CA bundle).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

import hub
from hub import problem, utcnow
from hub_bundesdruckerei import package
from hub_bundesdruckerei.applications import is_identity_document
from hub_bundesdruckerei.store import KofferStore

log = structlog.get_logger("hub.koffer")
SEGMENT_READ = 1 << 20  # bytes per read while streaming a package out
STATUS_WORDS = {
    "received": "Der Antrag ist im Pass- und Ausweisverfahren eingegangen.",
    "in_production": "Das Dokument wird bei der Bundesdruckerei hergestellt.",
    "ready_for_pickup": "Das Dokument liegt zur Abholung bereit.",
    "rejected": "Der Antrag wurde zurückgewiesen.",
}


class PassportOfficeSettings(hub.TlsSettings):
    """The receiving endpoint; ``client_cert``/``client_key``/``ca_bundle`` (mutual TLS) come
    from :class:`hub.TlsSettings`, and the core builds ``ctx.http`` with them."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="Base URL of the passport software's receiving endpoint")
    timeout: float = Field(default=60.0, gt=0)
    keys_dir: str = Field(default="var/bundesdruckerei", description="Manifest signing key")


class PassportOfficeAdapter:
    def __init__(self, settings: PassportOfficeSettings, h: Any, state: Any):
        self.settings = settings
        self.hub = h
        self.state = state
        self.key = package.signing_key(Path(settings.keys_dir))

    def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        if not is_identity_document(record) or record.channel.value != "koffer":
            raise hub.PermanentError("passport_office takes koffer passport/ID-card applications")
        store: KofferStore = self.state()
        readers: list[Any] = []
        try:
            for attachment in record.attachments:
                readers.append(self._open(store, record, attachment))
        except BaseException:
            for reader in readers:
                reader.close()
            raise
        manifest = package.sign(
            record.model_dump(mode="json", exclude={"deliveries", "history"}),
            [a.model_dump() for a in record.attachments],
            self.key,
        )
        content_type, body = package.multipart(
            manifest,
            [
                (a.model_dump(), iter(lambda r=r: r.read(SEGMENT_READ), b""))
                for a, r in zip(record.attachments, readers, strict=True)
            ],
        )
        try:
            response = ctx.http.post(
                f"{self.settings.url.rstrip('/')}/v1/applications",
                content=body,
                headers={"Content-Type": content_type, "Idempotency-Key": str(record.id)},
                timeout=self.settings.timeout,
            )
        except httpx.TimeoutException as exc:
            raise hub.TransientError(f"timeout after {self.settings.timeout}s") from exc
        except httpx.TransportError as exc:
            raise hub.TransientError(
                f"{type(exc).__name__} reaching the passport software"
            ) from exc
        finally:
            for reader in readers:
                reader.close()
        code = response.status_code
        hub.raise_for_status(response, "passport software")
        if code in (200, 202):
            receipt = response.json().get("receipt")
            store.audit(
                "system", "application_delivered", f"record:{record.id}", f"receipt {receipt}"
            )
            return {"status": code, "receipt": receipt}
        raise hub.PermanentError(f"passport software answered {code}")

    def _open(self, store: KofferStore, record: hub.Record, attachment: hub.Attachment) -> Any:
        """The attachment's plaintext as a stream, through the hub's attachment store."""
        try:
            return self.hub.attachments.open(str(record.id), attachment.id)[1]
        except KeyError:  # accepted before attachments named their backend: the upload itself
            upload = store.get(attachment.id)
            if upload is None or not upload.complete:
                raise hub.PermanentError(
                    f"attachment {attachment.id}: no complete upload"
                ) from None
            try:
                return store.reader(upload)
            except LookupError:
                raise hub.PermanentError("the application's data was destroyed") from None
        except LookupError:
            raise hub.PermanentError(
                f"attachment {attachment.id}: its data was destroyed (retention) or never completed"
            ) from None

    def check(self, ctx: hub.CheckContext) -> str:
        try:
            response = ctx.http.request(
                "OPTIONS",
                f"{self.settings.url.rstrip('/')}/v1/applications",
                timeout=self.settings.timeout,
            )
        except httpx.HTTPError as exc:
            raise hub.TransientError(f"{self.settings.url}: {type(exc).__name__}") from exc
        return f"{self.settings.url} reachable (HTTP {response.status_code})"


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str
    receipt: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)


def destroy_for(h: Any, store: KofferStore, record: hub.Record, *, actor: str, why: str) -> int:
    """Destroy the data keys and files of the record's uploads, and their attachment rows in
    the hub's store (the API lists them no more); returns cases destroyed."""
    cases = {u.case_id for a in record.attachments if (u := store.get(a.id)) is not None}
    destroyed = sum(store.destroy_case(c, actor=actor, why=why) for c in sorted(cases))
    forget_attachments(h, str(record.id), {a.id for a in record.attachments})
    return destroyed


def forget_attachments(h: Any, record_id: str, upload_ids: set[str]) -> None:
    """Drop the hub's rows of destroyed uploads (the backend finds the case destroyed)."""
    for attachment in h.attachments.list(record_id):
        if attachment.id in upload_ids:
            h.attachments.delete(record_id, attachment.id)


def callback_router(h: Any, state: Any) -> APIRouter:
    api = APIRouter(prefix="/v1/koffer", tags=["koffer"])

    def authenticated(request: Request) -> None:
        """The passport software's bearer token, checked before the body is even read: an
        unknown caller learns nothing about what the endpoint accepts."""
        import hmac

        _, _, token = request.headers.get("authorization", "").partition(" ")
        secrets_ = state().settings.callback_secrets()
        if not token or not any(hmac.compare_digest(token.strip(), s) for s in secrets_):
            raise HTTPException(
                401, "unknown callback token", headers={"WWW-Authenticate": "Bearer"}
            )

    @api.post("/status/{record_id}", status_code=204, dependencies=[Depends(authenticated)])
    def status_callback(record_id: str, body: StatusIn) -> Response:
        """Status callbacks from the passport software (bearer token from the config)."""
        store: KofferStore = state()
        if body.status not in package.STATUSES:
            return problem(
                422,
                "Unknown status",
                f"status: one of {', '.join(package.STATUSES)}",
                kind="validation",
            )
        record = h.store.get_record(record_id)
        if record is None or not is_identity_document(record):
            return problem(404, "Not found", "no such application", kind="http-404")
        detail = STATUS_WORDS[body.status]
        if body.receipt:
            detail += f" Vorgang {body.receipt}."
        if body.reason:
            detail += f" Grund: {body.reason}"
        if body.status in ("received", "rejected"):
            # Received: the back office holds it now. Rejected: it never will; either way the
            # hub's copy of the biometric data has no purpose left.
            destroy_for(h, store, record, actor="passport_office", why=f"confirmed {body.status}")
        h.report_status(
            record_id,
            f"passport_office:{body.status}",
            detail,
            adapter_type="passport_office",
            key=f"koffer-status:{record_id}:{body.status}",
        )
        return Response(status_code=204)

    @api.get("/jwks.json")
    def jwks() -> dict[str, Any]:
        """The public key the package manifests are signed with."""
        for name in h.config.adapters:
            if h.config.adapter_type(name) == "passport_office":
                return package.jwks(h.adapters[name].key)
        return {"keys": []}

    return api


def purge(h: Any, store: KofferStore) -> dict[str, int]:
    """Expired unfinished uploads and every case older than the retention time go."""
    now = utcnow()
    expired = store.expired_uploads(now)
    for upload in expired:
        store.delete_upload(upload, actor="janitor", why="expired before completion")
    old = store.stale_cases(now - timedelta(hours=store.settings.retention_hours))
    destroyed = 0
    for case_id in old:
        record_id = store.record_of_case(case_id)
        uploads = {u.id for u in store.uploads_of_case(case_id)}
        if store.destroy_case(case_id, actor="janitor", why="retention time over"):
            destroyed += 1
            if record_id:
                forget_attachments(h, record_id, uploads)
                h.report_status(
                    record_id,
                    "koffer:data_purged",
                    "Biometrische Daten nach Ablauf der Aufbewahrungsfrist gelöscht.",
                    adapter_type="passport_office",
                    key=f"koffer-purged:{case_id}",
                )
    return {"expired_uploads": len(expired), "cases_destroyed": destroyed}


class Janitor:
    def __init__(self, h: Any, state: Any, interval: float):
        self.h, self.state, self.interval = h, state, interval
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="koffer-janitor", daemon=True)

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                purge(self.h, self.state())
            except Exception as exc:  # keep purging later; the error is logged without data
                log.warning("koffer_purge_failed", error=type(exc).__name__)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)


__all__ = ["Janitor", "PassportOfficeAdapter", "PassportOfficeSettings", "callback_router", "purge"]
