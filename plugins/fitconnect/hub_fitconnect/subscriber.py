"""The hub as a FIT-Connect subscriber: submissions to our destinations become hub records.

For each waiting submission: fetch it; check the delivery service's ``submit-submission`` event
against its JWKS; decrypt metadata, data and attachments (our decryption key, its ``kid``);
validate the metadata against its schema version and the data against the announced submission
schema; verify every SHA-512 in ``contentStructure``; map to a record and store it durably
(idempotent by submission id); only then post a PS512-signed ``accept-submission`` with the
authentication tags of the JWEs. What fails a check gets ``reject-submission`` with problem
entries and no record. Nothing here raises out of the loop: every outcome is recorded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from joserfc.jwk import KeySet
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, update

import hub
from hub.core.config import resolve_secret
from hub.core.store import utcnow
from hub_fitconnect import crypto, identity, schemas, tables
from hub_fitconnect.api import ApiProblem, SubmissionApi

log = structlog.get_logger("hub.fitconnect")
PROBLEM = "https://schema.fitko.de/fit-connect/events/problems/"


class DestinationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    destination_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    submission_api: str
    token_url: str
    client_id: str
    client_secret: str = Field(description="Reference: env:NAME or file:PATH")
    decryption_key: str = Field(description="Reference to our private RSA JWK (RSA-OAEP-256)")
    signing_key: str = Field(description="Reference to our private RSA JWK (PS512)")
    callback_secret: str | None = Field(default=None, description="Reference; 32–512 chars")
    ars: str = Field(pattern=r"^[0-9]{12}$", description="The municipality it serves")
    data_schemas: dict[str, str] = Field(
        default_factory=dict, description="Submission schema URI → local JSON Schema file"
    )
    applicant: dict[str, str] = Field(
        default_factory=dict, description="Record applicant field → JSON pointer into the data"
    )
    timeout: float = Field(default=30.0, gt=0)


class SubscriberSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: float = Field(default=60.0, gt=0, description="Seconds between polls")
    destinations: list[DestinationSettings] = Field(min_length=1)


@dataclass
class Rejection(Exception):
    problems: list[dict[str, str]]


def _problem(slug: str, title: str, detail: str, instance: str) -> dict[str, str]:
    return {"type": PROBLEM + slug, "title": title, "detail": detail, "instance": instance}


class Destination:
    """One configured destination: its keys, its API client, its schemas."""

    def __init__(self, settings: DestinationSettings):
        self.settings = settings
        self.id = settings.destination_id
        where = f"channels.fitconnect_subscriber[{settings.destination_id}]"
        self.decryption_key = crypto.load_key(
            json.loads(resolve_secret(settings.decryption_key, f"{where}.decryption_key"))
        )
        self.signing_key = crypto.load_key(
            json.loads(resolve_secret(settings.signing_key, f"{where}.signing_key"))
        )
        self.callback_secret = (
            resolve_secret(settings.callback_secret, f"{where}.callback_secret")
            if settings.callback_secret
            else None
        )
        self.api = SubmissionApi(
            settings.submission_api,
            settings.token_url,
            settings.client_id,
            resolve_secret(settings.client_secret, f"{where}.client_secret"),
            timeout=settings.timeout,
        )
        self.validators = {
            uri: Draft202012Validator(json.loads(Path(path).read_text(encoding="utf-8")))
            for uri, path in settings.data_schemas.items()
        }
        self._platform_keys: KeySet | None = None

    def platform_keys(self, refresh: bool = False) -> KeySet:
        if self._platform_keys is None or refresh:
            self._platform_keys = KeySet.import_key_set(self.api.jwks())
        return self._platform_keys


def _decrypt(dest: Destination, token: str | None, instance: str) -> bytes:
    if not token:
        raise Rejection([_problem("missing-data", "Fehlende Daten", f"{instance} fehlt", instance)])
    try:
        return crypto.decrypt(token, dest.decryption_key, expect_kid=dest.decryption_key.kid)
    except crypto.CryptoRefused as exc:
        raise Rejection(
            [
                _problem(
                    "encryption-issue", "Entschlüsselungsfehler", f"{exc} ({exc.reason})", instance
                )
            ]
        ) from None


def _hash_check(data: bytes, expected: dict[str, Any] | None, instance: str) -> None:
    if not expected or expected.get("type") != "sha512":
        raise Rejection([_problem("missing-hash", "Hashwert fehlt", "kein SHA-512", instance)])
    if crypto.sha512(data) != expected.get("content"):
        raise Rejection(
            [_problem("hash-mismatch", "Prüfsumme stimmt nicht", "der SHA-512 weicht ab", instance)]
        )


def _pointer(document: Any, pointer: str) -> Any:
    for part in pointer.strip("/").split("/"):
        if not isinstance(document, dict):
            return None
        document = document.get(part.replace("~1", "/").replace("~0", "~"))
    return document


@dataclass
class Received:
    submission_id: str
    case_id: str
    record: hub.Submission
    attachments: list[tuple[hub.Attachment, bytes]]
    tags: dict[str, Any]


def verify_submitted(dest: Destination, case_id: str, submission_id: str) -> None:
    """The delivery service's own submit-submission SET for this submission must verify."""
    for refresh in (False, True):
        keys = dest.platform_keys(refresh)
        for token in dest.api.events(case_id):
            try:
                event = crypto.read_set(token, keys)
            except crypto.CryptoRefused:
                continue
            if (
                event.event == "submit-submission"
                and event.issuer.startswith("http")
                and event.subject == f"submission:{submission_id}"
            ):
                return
    raise hub.PermanentError("no verifiable submit-submission event from the delivery service")


@dataclass
class Fetched:
    submission: dict[str, Any]  # as the Submission API returned it
    attachments: dict[str, str]  # attachment id -> JWE


def fetch(dest: Destination, submission_id: str) -> Fetched:
    sub = dest.api.submission(submission_id)
    return Fetched(
        sub, {aid: dest.api.attachment(submission_id, aid) for aid in sub.get("attachments") or []}
    )


def receive(dest: Destination, submission_id: str) -> Received:
    """Fetch, decrypt and check one submission; raises :class:`Rejection` with problems."""
    return process(dest, fetch(dest, submission_id))


def process(dest: Destination, fetched: Fetched) -> Received:
    """Decrypt, verify and map a fetched submission; raises :class:`Rejection`."""
    sub = fetched.submission
    submission_id, case_id = sub["submissionId"], sub["caseId"]
    metadata_token = sub.get("encryptedMetadata")
    metadata_bytes = _decrypt(dest, metadata_token, "metadata")
    try:
        metadata = json.loads(metadata_bytes)
    except ValueError:
        raise Rejection(
            [_problem("syntax-violation", "Syntaxfehler", "kein JSON", "metadata")]
        ) from None
    issues = schemas.problems(metadata)
    if issues:
        raise Rejection(
            [_problem("schema-violation", "Schemaverletzung", i, "metadata") for i in issues[:5]]
        )
    structure = metadata["contentStructure"]
    tags: dict[str, Any] = {
        "metadata": crypto.authentication_tag(metadata_token),
        "attachments": {},
    }
    data_obj: Any = {}
    described = structure.get("data")
    if described is not None:
        data_token = sub.get("encryptedData")
        data = _decrypt(dest, data_token, "data")
        tags["data"] = crypto.authentication_tag(data_token)
        _hash_check(data, described.get("hash"), "data")
        uri = described["submissionSchema"]["schemaUri"]
        validator = dest.validators.get(uri)
        if validator is None:
            raise Rejection(
                [
                    _problem(
                        "unsupported-schema",
                        "Schema nicht unterstützt",
                        f"{uri} ist hier nicht bekannt",
                        "data",
                    )
                ]
            )
        try:
            data_obj = json.loads(data)
        except ValueError:
            raise Rejection(
                [_problem("syntax-violation", "Syntaxfehler", "kein JSON", "data")]
            ) from None
        errors = [e.message[:200] for e in validator.iter_errors(data_obj)][:5]
        if errors:
            raise Rejection(
                [_problem("schema-violation", "Schemaverletzung", e, "data") for e in errors]
            )
    described_ids = {a["attachmentId"] for a in structure.get("attachments") or []}
    if described_ids != set(sub.get("attachments") or []):
        raise Rejection(
            [
                _problem(
                    "attachments-mismatch",
                    "Anlagen stimmen nicht",
                    "Metadaten und Einreichung nennen andere Anlagen",
                    "metadata",
                )
            ]
        )
    attachments = []
    for described_attachment in structure.get("attachments") or []:
        aid = described_attachment["attachmentId"]
        token = fetched.attachments[aid]
        content = _decrypt(dest, token, f"attachment:{aid}")
        tags["attachments"][aid] = crypto.authentication_tag(token)
        _hash_check(content, described_attachment.get("hash"), f"attachment:{aid}")
        attachments.append(
            (
                hub.Attachment(
                    id=aid,
                    purpose=described_attachment.get("purpose", "attachment"),
                    media_type=described_attachment.get("mimeType", "application/octet-stream"),
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                ),
                content,
            )
        )
    leika = str((sub.get("publicService") or {}).get("identifier", "")).rsplit(":", 1)[-1]
    applicant = {
        f: v for f, p in dest.settings.applicant.items() if (v := _pointer(data_obj, p)) is not None
    }
    proof = identity.identity(metadata)
    if proof and applicant.get("family_name"):  # an identity belongs to a named applicant
        applicant["identity"] = proof
    try:
        record = hub.Submission.model_validate(
            {
                "service": {"leika_key": leika},
                "municipality": {"ars": dest.settings.ars},
                "channel": "portal",
                "applicant": applicant or None,
                "payload": data_obj if isinstance(data_obj, dict) else {"data": data_obj},
                "attachments": [a.model_dump() for a, _ in attachments],
            }
        )
    except Exception as exc:
        raise Rejection(
            [_problem("schema-violation", "Nicht abbildbar", str(exc)[:300], "data")]
        ) from None
    return Received(submission_id, case_id, record, attachments, tags)


class Subscriber:
    """The ``fitconnect_subscriber`` channel."""

    def __init__(self, settings: SubscriberSettings, h: Any):
        self.settings = settings
        self.hub = h
        self.destinations = [Destination(d) for d in settings.destinations]
        self.wake = threading.Event()
        h.extensions["fitconnect.subscriber"] = self
        tables.migrate(h.store)

    def destination(self, destination_id: str) -> Destination | None:
        return next((d for d in self.destinations if d.id == destination_id), None)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll()
            # Sleep until the interval is over, a callback wakes us or the hub stops.
            waited = 0.0
            while waited < self.settings.interval and not stop.is_set():
                if self.wake.wait(0.25):
                    break
                waited += 0.25
            self.wake.clear()

    def poll(self) -> dict[str, int]:
        counts = {"accepted": 0, "rejected": 0, "failed": 0}
        for dest in self.destinations:
            try:
                waiting = dest.api.pending(dest.id)
            except hub.AdapterError as exc:
                log.warning("fitconnect_poll_failed", error=type(exc).__name__)
                continue
            for entry in waiting:
                outcome = self.handle(dest, entry["submissionId"], entry["caseId"])
                counts[outcome] += 1
        return counts

    def _remember(self, submission_id: str, **values: Any) -> None:
        """Insert or update the submission's outcome row, in one transaction."""
        where = tables.received.c.submission_id == submission_id
        with self.hub.store.engine.begin() as conn:
            if (
                conn.execute(
                    update(tables.received).where(where).values(at=utcnow(), **values)
                ).rowcount
                == 0
            ):
                conn.execute(
                    insert(tables.received).values(
                        submission_id=submission_id, at=utcnow(), **values
                    )
                )

    def handle(self, dest: Destination, submission_id: str, case_id: str) -> str:
        """One submission, start to end; returns accepted, rejected or failed (try later)."""
        try:
            verify_submitted(dest, case_id, submission_id)
            try:
                got = receive(dest, submission_id)
            except Rejection as rejection:
                self._reject(dest, submission_id, case_id, rejection.problems)
                return "rejected"
            accepted = self.hub.intake.submit(
                got.record,
                client=f"fitconnect:{dest.id}",
                idempotency_key=f"fitconnect:{submission_id}",
            )
            for attachment, content in got.attachments:
                self.hub.attachments.add(
                    accepted.record_id,
                    attachment.id,
                    purpose=attachment.purpose,
                    media_type=attachment.media_type,
                    data=content,
                    source="fitconnect",
                )
            self._remember(
                submission_id,
                destination_id=dest.id,
                case_id=case_id,
                record_id=accepted.record_id,
                state="stored",
            )
            event = crypto.make_set(
                dest.signing_key,
                issuer=dest.id,
                submission_id=submission_id,
                case_id=case_id,
                event="accept-submission",
                payload={"authenticationTags": got.tags},
            )
            self._post(dest, case_id, event)
            self._remember(submission_id, state="accepted")
            log.info("fitconnect_accepted", record_id=accepted.record_id)
            return "accepted"
        except hub.IntakeRejected as exc:
            self._reject(
                dest,
                submission_id,
                case_id,
                [_problem("schema-violation", "Nicht annehmbar", str(exc)[:300], "data")],
            )
            return "rejected"
        except hub.AdapterError as exc:
            log.warning("fitconnect_submission_failed", error=type(exc).__name__)
            return "failed"

    def _post(self, dest: Destination, case_id: str, event: str) -> None:
        try:
            dest.api.post_event(case_id, event)
        except ApiProblem as exc:
            if exc.status != 409:  # 409: decided before (we crashed after posting): done
                raise

    def _reject(
        self, dest: Destination, submission_id: str, case_id: str, problems: list[dict[str, str]]
    ) -> None:
        event = crypto.make_set(
            dest.signing_key,
            issuer=dest.id,
            submission_id=submission_id,
            case_id=case_id,
            event="reject-submission",
            payload={"problems": problems},
        )
        self._post(dest, case_id, event)
        self._remember(
            submission_id,
            destination_id=dest.id,
            case_id=case_id,
            state="rejected",
            reason="; ".join(p["type"].rsplit("/", 1)[-1] for p in problems)[:500],
        )
        log.info("fitconnect_rejected", reasons=[p["type"].rsplit("/", 1)[-1] for p in problems])


__all__ = ["DestinationSettings", "Rejection", "Subscriber", "SubscriberSettings", "receive"]
