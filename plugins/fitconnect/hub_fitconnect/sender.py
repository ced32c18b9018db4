"""The hub as a FIT-Connect sender: records go to any destination in Germany.

The ``fitconnect`` adapter finds the destination (configured, or the Routing API by LeiKa key
and ARS, with the portal's ``destinationSignature`` verified), checks it (active, offers the
service and our data schema, takes metadata 2.1.0) and its encryption key (``wrapKey``,
``RSA-OAEP-256``, ≥ 4096 bits), builds schema-valid metadata, encrypts data, metadata and each
attachment separately, creates the submission, uploads and submits. Each step is checkpointed,
so a retry after a crash never creates a second submission. The ``fitconnect_events`` channel
then follows the case's event log (every SET verified) and turns accept/reject into the
record's status.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import structlog
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select, update

import hub
from hub import Secret, utcnow
from hub_fitconnect import crypto, schemas, tables
from hub_fitconnect.api import ApiProblem, SubmissionApi

log = structlog.get_logger("hub.fitconnect")
ATTACHMENT_NS = uuid.UUID("6b0c8f8e-6d2a-4a7e-9f51-3c1f0e5a9d10")  # attachment ids per record


def reply_metadata(record: hub.Record) -> dict[str, Any]:
    """Where the office's answer goes, as the citizen chose (``record.notifications``): the
    first of their channels that FIT-Connect carries and we can address — the BundID mailbox
    (``idBundDeMailbox``, when the login gave its handle) or e-mail — unless the letter comes
    first; no reply channel means a letter. With it the Antrags-ID for the BundID status
    monitor and the consent to a digital decision, an explicit ``false`` when refused."""
    refs: dict[str, Any] = {"senderReference": str(record.id)}
    found: dict[str, Any] = {"additionalReferenceInfo": refs}
    applicant = record.applicant
    identity = applicant.identity if applicant else None
    if identity is not None and identity.application_id:
        refs["idBundDeApplicationId"] = identity.application_id
    wish = record.notifications
    if wish is None:
        return found
    refs["zustimmungZumDigitalenBescheid"] = wish.consent
    if not wish.consent:
        return found
    for channel in wish.channels:
        if channel == "postfach" and identity is not None and identity.mailbox_uuid:
            found["replyChannel"] = {"idBundDeMailbox": {"mailboxUuid": identity.mailbox_uuid}}
        elif channel == "email" and applicant is not None and applicant.email:
            found["replyChannel"] = {"eMail": {"address": applicant.email}}
        elif channel != "letter":
            continue  # not addressable: the next one
        break
    return found


class SenderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    submission_api: str
    token_url: str
    client_id: str
    client_secret: Secret
    destination_id: str | None = Field(default=None, description="Else found by the Routing API")
    routing_api: str | None = None
    portal_jwks: str | None = Field(default=None, description="Keys of destinationSignature")
    data_schema_uri: str = Field(description="The submission schema the data follows")
    timeout: float = Field(default=30.0, gt=0)


class FitConnectAdapter:
    def __init__(self, settings: SenderSettings, h: Any):
        if settings.destination_id is None and not (settings.routing_api and settings.portal_jwks):
            raise hub.ConfigurationError(
                "fitconnect: destination_id, or routing_api and portal_jwks"
            )
        self.settings = settings
        self.hub = h
        self.api = SubmissionApi(
            settings.submission_api,
            settings.token_url,
            settings.client_id,
            settings.client_secret.reveal(),
            timeout=settings.timeout,
            http=h.http_client(timeout=settings.timeout),
        )

    # --- finding and checking the destination -----------------------------------------------

    def route(self, leika: str, ars: str) -> str:
        s = self.settings
        if s.destination_id:
            return s.destination_id
        try:
            # The API client's connection pool and User-Agent (the Routing API needs one).
            found = self.api.http.get(
                f"{s.routing_api}/v2/routes", params={"leikaKey": leika, "ars": ars}
            )
            keys = self.api.http.get(str(s.portal_jwks)).json()
        except httpx.HTTPError as exc:
            raise hub.TransientError(f"Routing API: {type(exc).__name__}") from exc
        if found.status_code >= 500 or found.status_code == 429:
            raise hub.TransientError(f"Routing API answered {found.status_code}")
        routes = found.json().get("routes") or []
        if not routes:
            raise hub.PermanentError(f"no FIT-Connect destination for {leika} in {ars}")
        route = routes[0]
        try:
            signed = jws.deserialize_compact(
                route["destinationSignature"], KeySet.import_key_set(keys), algorithms=["PS512"]
            )
        except (JoseError, ValueError, KeyError) as exc:
            raise hub.PermanentError(f"destinationSignature does not verify: {exc}") from None
        claims = json.loads(signed.payload)
        if claims.get("destinationId") != route["destinationId"]:
            raise hub.PermanentError("destinationSignature names another destination")
        return route["destinationId"]

    def destination_key(self, destination_id: str, leika: str) -> RSAKey:
        d = self.api.destination(destination_id)
        if d.get("status") != "active":
            raise hub.PermanentError(f"destination {destination_id} is {d.get('status')}")
        identifier = f"urn:de:fim:leika:leistung:{leika}"
        service = next(
            (p for p in d.get("publicServices") or [] if p.get("identifier") == identifier), None
        )
        if service is None:
            raise hub.PermanentError(f"destination does not offer {identifier}")
        if self.settings.data_schema_uri not in {
            x.get("schemaUri") for x in service.get("submissionSchemas") or []
        }:
            raise hub.PermanentError("destination does not take our data schema")
        if schemas.CURRENT not in (d.get("metadataVersions") or []):
            raise hub.PermanentError(f"destination does not take metadata {schemas.CURRENT}")
        try:
            return crypto.check_encryption_key(self.api.key(destination_id, d["encryptionKid"]))
        except crypto.CryptoRefused as exc:
            raise hub.PermanentError(f"destination key refused: {exc}") from None

    # --- delivery -----------------------------------------------------------------------------

    def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        leika, ars = record.service.leika_key, record.municipality.ars
        destination_id = ctx.step("fc_destination", lambda: self.route(leika, ars))
        key = self.destination_key(destination_id, leika)
        stored = self.hub.attachments.list(str(record.id))
        ids = {a.id: str(uuid.uuid5(ATTACHMENT_NS, f"{record.id}/{a.id}")) for a in stored}
        created = ctx.step(
            "fc_create",
            lambda: self.api.create(
                {
                    "destinationId": destination_id,
                    "announcedAttachments": list(ids.values()),
                    "publicService": {
                        "name": record.service.name or leika,
                        "identifier": f"urn:de:fim:leika:leistung:{leika}",
                    },
                }
            ),
        )
        sid, case = created["submissionId"], created["caseId"]
        described = []
        for attachment in stored:
            content = self.hub.attachments.read(str(record.id), attachment.id)
            ctx.step(
                f"fc_upload_{ids[attachment.id]}",
                lambda c=content, a=attachment: (
                    self.api.upload(sid, ids[a.id], crypto.encrypt(c, key, cty=a.media_type)),
                    True,
                )[1],
            )
            described.append(
                {
                    "hash": {"type": "sha512", "content": crypto.sha512(content)},
                    # FIT-Connect knows these purposes; the hub's own (e.g. "photo") travel
                    # as what a citizen uploads.
                    "purpose": attachment.purpose
                    if attachment.purpose in ("form", "attachment", "report", "data")
                    else "attachment",
                    "mimeType": attachment.media_type,
                    "attachmentId": ids[attachment.id],
                    "filename": attachment.filename or attachment.id,
                }
            )
        # The data is the application's form data, which the announced schema describes.
        data = json.dumps(record.payload, ensure_ascii=False).encode()
        metadata = {
            "$schema": schemas.schema_uri(),
            "contentStructure": {
                "data": {
                    "hash": {"type": "sha512", "content": crypto.sha512(data)},
                    "submissionSchema": {
                        "schemaUri": self.settings.data_schema_uri,
                        "mimeType": "application/json",
                    },
                },
                "attachments": described,
            },
            "author": {
                "name": "hub",
                "product": {
                    "name": "hub",
                    "version": hub.__version__,
                    "manufacturer": "hub contributors",
                },
            },
        }
        metadata.update(reply_metadata(record))
        issues = schemas.problems(metadata)
        if issues:
            raise hub.PermanentError(f"our metadata would not be valid: {issues[:3]}")

        def submit() -> bool:
            try:
                self.api.submit(
                    sid,
                    {
                        "encryptedMetadata": crypto.encrypt(
                            json.dumps(metadata).encode(), key, cty="application/json"
                        ),
                        "encryptedData": crypto.encrypt(data, key, cty="application/json"),
                    },
                )
            except ApiProblem as exc:
                if exc.status != 409:  # 409: submitted before a crash: done
                    raise
            return True

        ctx.step("fc_submit", submit)
        ctx.step("fc_follow", lambda: self._follow_later(record, destination_id, sid, case))
        return {"submissionId": sid, "caseId": case, "destinationId": destination_id}

    def _follow_later(self, record: hub.Record, destination_id: str, sid: str, case: str) -> bool:
        with self.hub.store.transaction() as conn:
            conn.execute(
                insert(tables.sent).values(
                    submission_id=sid,
                    record_id=str(record.id),
                    destination_id=destination_id,
                    case_id=case,
                    state="submitted",
                    at=utcnow(),
                )
            )
        return True

    def check(self, ctx: hub.CheckContext) -> str:
        self.api.token()
        return "FIT-Connect token endpoint answers"


def follow(h: Any, api: SubmissionApi) -> int:
    """Read the event logs of submitted cases; returns how many cases were decided."""
    with h.store.reading() as conn:
        open_cases = conn.execute(
            select(tables.sent).where(tables.sent.c.state == "submitted")
        ).all()
    if not open_cases:
        return 0
    platform = KeySet.import_key_set(api.jwks())
    decided = 0
    for row in open_cases:
        for token in api.events(row.case_id):
            try:
                header, claims = crypto.peek(token)
                if str(claims.get("iss", "")).startswith("http"):
                    keys: Any = platform  # the delivery service's own events
                else:  # the subscriber's: its destination's signing key
                    keys = RSAKey.import_key(api.key(row.destination_id, str(header.get("kid"))))
                event = crypto.read_set(token, keys)
            except (crypto.CryptoRefused, ApiProblem, KeyError, ValueError) as exc:
                log.warning("fitconnect_event_unverified", error=str(exc)[:200])
                continue
            if event.issuer != row.destination_id or event.event not in (
                "accept-submission",
                "reject-submission",
            ):
                continue
            if event.event == "accept-submission":
                status, detail = "fitconnect:accepted", "Die Einreichung wurde angenommen."
            else:
                reasons = "; ".join(
                    f"{p.get('title')}: {p.get('detail')}"
                    for p in event.payload.get("problems") or []
                )
                status, detail = "fitconnect:rejected", f"Zurückgewiesen: {reasons}"
            h.report_status(
                row.record_id,
                status,
                detail,
                adapter_type="fitconnect",
                key=f"fitconnect-event:{event.jti}",
            )
            with h.store.transaction() as conn:
                conn.execute(
                    update(tables.sent)
                    .where(tables.sent.c.submission_id == row.submission_id)
                    .values(state=event.event.split("-")[0] + "ed", at=utcnow())
                )
            decided += 1
            break
    return decided


class EventFollower:
    """The ``fitconnect_events`` poller: follows what became of sent submissions."""

    def __init__(self, settings: SenderSettings, h: Any):
        self.settings = settings
        self.hub = h
        self.api = SubmissionApi(
            self.settings.submission_api,
            self.settings.token_url,
            self.settings.client_id,
            self.settings.client_secret.reveal("pollers.fitconnect_events.client_secret"),
            http=h.http_client(timeout=self.settings.timeout),
        )

    def poll(self) -> None:
        """One look at the events of every submission still open (the core repeats it)."""
        follow(self.hub, self.api)


__all__ = ["EventFollower", "FitConnectAdapter", "SenderSettings", "follow"]
