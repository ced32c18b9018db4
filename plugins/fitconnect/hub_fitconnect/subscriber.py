"""The hub as a FIT-Connect subscriber: submissions to our destinations become hub records.

For each waiting submission: fetch it; check the delivery service's ``submit-submission`` event
against its JWKS and compare the authentication tags it signed with the JWEs actually served;
decrypt metadata, data and attachments (our decryption key, its ``kid``); validate the metadata
against its schema version and the data against the announced submission schema (JSON Schema
with formats, or an XSD for XML Fachdaten); verify every SHA-512 in ``contentStructure``; map to a
record and store it durably together with its attachments (idempotent by submission id); only
then post a PS512-signed ``accept-submission`` with the authentication tags of the JWEs.

Outcomes, each recorded in ``fitconnect_received`` and logged with submission and case id:
the citizen's submission fails a check → ``reject-submission`` naming field and rule (never a
value: the event is not encrypted); the service's event cannot be verified → ``unverified``;
our own configuration refuses it (no route, catalogue) → ``held``, never rejected, tried again
after a fix; anything unexpected → ``failed``. The last three back off exponentially. Nothing
here raises out of the loop.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select, update

import hub
from hub import Secret, XmlRejected, parse_xml, utcnow
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
    client_secret: Secret
    decryption_key: Secret = Field(description="Our private RSA JWK (RSA-OAEP-256), by reference")
    signing_key: Secret = Field(description="Our private RSA JWK (PS512), by reference")
    callback_secret: Secret | None = Field(default=None, description="32–512 chars, by reference")
    ars: str = Field(pattern=r"^[0-9]{12}$", description="The municipality it serves")
    data_schemas: dict[str, str] = Field(
        default_factory=dict,
        description="Submission schema URI → local schema file: JSON Schema, or an XSD "
        "(*.xsd) for XML Fachdaten",
    )
    applicant: dict[str, str] = Field(
        default_factory=dict, description="Record applicant field → JSON pointer into the data"
    )
    timeout: float = Field(default=30.0, gt=0)


class SubscriberSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: float = Field(default=60.0, gt=0, description="Seconds between polls")
    retry_seconds: float = Field(
        default=60.0,
        ge=0,
        description="First wait before an unverified, held or failed "
        "submission is tried again; doubles per attempt",
    )
    retry_max_seconds: float = Field(default=3600.0, ge=0)
    destinations: list[DestinationSettings] = Field(min_length=1)


# Problems on these fields come from the hub's configuration (routes, catalogue, the ARS this
# destination serves), not from the citizen: such a submission is held, never rejected.
OURS = ("service.", "municipality.", "authority.", "(record)")
MAX_XML_BYTES = 64 * 1024 * 1024


@dataclass
class Rejection(Exception):
    problems: list[dict[str, str]]


class Unverified(Exception):
    """The delivery service's own event for a submission could not be verified."""


class XmlSchema:
    """An XSD for XML Fachdaten, compiled once; documents are parsed safely (no DTD, no
    entities, no network) before validation."""

    def __init__(self, path: Path):
        from lxml import etree

        self.schema = etree.XMLSchema(
            parse_xml(path.read_bytes(), max_bytes=MAX_XML_BYTES, what="XSD").getroottree()
        )

    def problems(self, data: bytes) -> list[str]:
        try:
            document = parse_xml(data, max_bytes=MAX_XML_BYTES, what="data")
        except XmlRejected as exc:
            return [f"(root): {exc.code}"]
        if self.schema.validate(document):
            return []
        # line and element only: libxml2's messages quote the offending value
        return [f"line {e.line}: {e.type_name.lower()}" for e in list(self.schema.error_log)[:5]]


def _problem(slug: str, title: str, detail: str, instance: str) -> dict[str, str]:
    return {"type": PROBLEM + slug, "title": title, "detail": detail, "instance": instance}


class Destination:
    """One configured destination: its keys, its API client, its schemas."""

    def __init__(self, settings: DestinationSettings, http: Any = None):
        self.settings = settings
        self.id = settings.destination_id
        where = f"channels.fitconnect_subscriber[{settings.destination_id}]"
        self.decryption_key = crypto.load_key(
            json.loads(settings.decryption_key.reveal(f"{where}.decryption_key"))
        )
        self.signing_key = crypto.load_key(
            json.loads(settings.signing_key.reveal(f"{where}.signing_key"))
        )
        self.callback_secret = (
            settings.callback_secret.reveal(f"{where}.callback_secret")
            if settings.callback_secret
            else None
        )
        self.api = SubmissionApi(
            settings.submission_api,
            settings.token_url,
            settings.client_id,
            settings.client_secret.reveal(f"{where}.client_secret"),
            timeout=settings.timeout,
            http=http,
        )
        self.validators: dict[str, Any] = {
            uri: (
                XmlSchema(Path(path))
                if path.endswith(".xsd")
                else schemas.validator(json.loads(Path(path).read_text(encoding="utf-8")))
            )
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


def _tags_match(signed: dict[str, Any], served: dict[str, Any]) -> list[str]:
    """What differs between the tags the service signed at submission and the JWEs served."""
    wrong = [
        part
        for part in ("metadata", "data")
        if (part in signed or part in served) and signed.get(part) != served.get(part)
    ]
    given = signed.get("attachments") or {}
    wrong += [
        f"attachment:{aid}"
        for aid in sorted(set(given) | set(served["attachments"]))
        if given.get(aid) != served["attachments"].get(aid)
    ]
    return wrong


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


def verify_submitted(dest: Destination, case_id: str, submission_id: str) -> crypto.SecurityEvent:
    """The delivery service's own submit-submission SET for this submission, verified; raises
    :class:`Unverified`."""
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
                return event
    raise Unverified("no verifiable submit-submission event from the delivery service")


@dataclass
class Fetched:
    submission: dict[str, Any]  # as the Submission API returned it
    attachments: dict[str, str]  # attachment id -> JWE


def fetch(dest: Destination, submission_id: str) -> Fetched:
    sub = dest.api.submission(submission_id)
    return Fetched(
        sub, {aid: dest.api.attachment(submission_id, aid) for aid in sub.get("attachments") or []}
    )


def receive(
    dest: Destination, submission_id: str, submitted: crypto.SecurityEvent | None = None
) -> Received:
    """Fetch, decrypt and check one submission; raises :class:`Rejection` with problems."""
    return process(dest, fetch(dest, submission_id), submitted)


def _served_tags(sub: dict[str, Any], attachments: dict[str, str]) -> dict[str, Any]:
    tags: dict[str, Any] = {"attachments": {}}
    for part, key in (("metadata", "encryptedMetadata"), ("data", "encryptedData")):
        if sub.get(key):
            tags[part] = crypto.authentication_tag(sub[key])
    for aid, token in attachments.items():
        tags["attachments"][aid] = crypto.authentication_tag(token)
    return tags


def process(
    dest: Destination, fetched: Fetched, submitted: crypto.SecurityEvent | None = None
) -> Received:
    """Decrypt, verify and map a fetched submission; raises :class:`Rejection`.

    ``submitted`` is the service's verified submit-submission event: the authentication tags
    it signed must be those of the JWEs served now (else someone swapped content on the way)."""
    sub = fetched.submission
    served = _served_tags(sub, fetched.attachments)
    if submitted is not None:
        signed = submitted.payload.get("authenticationTags")
        if not isinstance(signed, dict):
            raise Rejection(
                [
                    _problem(
                        "missing-authentication-tags",
                        "Authentication-Tags fehlen",
                        "das submit-submission-Ereignis nennt keine Authentication-Tags",
                        "submission",
                    )
                ]
            )
        wrong = _tags_match(signed, served)
        if wrong:
            raise Rejection(
                [
                    _problem(
                        "incorrect-authentication-tag",
                        "Authentication-Tag stimmt nicht",
                        "der Authentication-Tag weicht vom submit-submission-Ereignis ab",
                        part,
                    )
                    for part in wrong[:10]
                ]
            )
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
    data_obj: Any = {}
    data_xml: bytes | None = None
    described = structure.get("data")
    if described is not None:
        data_token = sub.get("encryptedData")
        data = _decrypt(dest, data_token, "data")
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
        if isinstance(validator, XmlSchema):
            errors = validator.problems(data)
            data_xml = data
        else:
            try:
                data_obj = json.loads(data)
            except ValueError:
                raise Rejection(
                    [_problem("syntax-violation", "Syntaxfehler", "kein JSON", "data")]
                ) from None
            errors = [schemas.describe(e) for e in validator.iter_errors(data_obj)][:5]
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
        _hash_check(content, described_attachment.get("hash"), f"attachment:{aid}")
        attachments.append((_attachment(aid, described_attachment, content), content))
    if data_xml is not None:  # XML Fachdaten travel on as a document of the record
        aid = "fachdaten.xml"
        described_xml = {"purpose": "data", "mimeType": "application/xml", "filename": aid}
        attachments.append((_attachment(aid, described_xml, data_xml), data_xml))
        data_obj = {"fachdaten": {"media_type": "application/xml", "attachment": aid}}
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
                "attachments": [a.model_dump(exclude_none=True) for a, _ in attachments],
                "references": {
                    "fitconnect.submission_id": submission_id,
                    "fitconnect.case_id": case_id,
                    "fitconnect.destination_id": dest.id,
                },
            }
        )
    except ValidationError as exc:
        raise Rejection(
            [
                _problem("schema-violation", "Nicht abbildbar", f"{field}: {rule}", "data")
                for field, rule in _field_rules(exc)[:5]
            ]
        ) from None
    return Received(submission_id, case_id, record, attachments, served)


def _field_rules(exc: ValidationError) -> list[tuple[str, str]]:
    """pydantic's errors as (field, rule), without ``input_value``."""
    return [(".".join(map(str, e["loc"])) or "(root)", e["type"]) for e in exc.errors()]


def _filename(name: Any) -> str | None:
    """The original file name, kept as far as the record can carry it (no control characters,
    500 characters); a name is never a reason to refuse an application."""
    cleaned = re.sub(r"[\x00-\x1f\x7f]", "", str(name or ""))[:500]
    return cleaned or None


def _attachment(aid: str, described: dict[str, Any], content: bytes) -> hub.Attachment:
    """The record's description of one attachment; a name or type the record cannot carry is
    a :class:`Rejection` naming the field, not an exception out of the loop."""
    try:
        return hub.Attachment(
            id=aid,
            purpose=described.get("purpose", "attachment"),
            media_type=described.get("mimeType", "application/octet-stream"),
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            filename=_filename(described.get("filename")),
        )
    except ValidationError as exc:
        raise Rejection(
            [
                _problem(
                    "schema-violation", "Anlage nicht abbildbar", f"{f}: {r}", f"attachment:{aid}"
                )
                for f, r in _field_rules(exc)[:5]
            ]
        ) from None


class Subscriber:
    """The ``fitconnect_subscriber`` channel (found by the callback route as ``SUBSCRIBER``)."""

    RETRIED = ("unverified", "held", "failed")

    def __init__(self, settings: SubscriberSettings, h: Any):
        self.settings = settings
        self.hub = h
        self.destinations = [
            Destination(d, h.http_client(timeout=d.timeout)) for d in settings.destinations
        ]
        self.wake = threading.Event()
        SUBSCRIBER.set(h, self)
        # A held submission waited for a configuration fix; a start may bring it: try now.
        with h.store.transaction() as conn:
            conn.execute(
                update(tables.received)
                .where(tables.received.c.state == "held")
                .values(next_attempt_at=None)
            )

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
        counts = {"accepted": 0, "rejected": 0, "held": 0, "failed": 0}
        for dest in self.destinations:
            try:
                waiting = dest.api.pending(dest.id)
            except hub.AdapterError as exc:
                log.warning("fitconnect_poll_failed", destination_id=dest.id, error=str(exc)[:200])
                continue
            listed = set()
            for entry in waiting:
                listed.add(entry["submissionId"])
                if self._deferred(entry["submissionId"]):
                    continue
                outcome = self.handle(dest, entry["submissionId"], entry["caseId"])
                counts[outcome] += 1
            self._settle_stored(dest, listed)
        return counts

    # --- outcomes ------------------------------------------------------------------------------

    def outcome(self, submission_id: str) -> Any:
        with self.hub.store.reading() as conn:
            return conn.execute(
                select(tables.received).where(tables.received.c.submission_id == submission_id)
            ).first()

    def _deferred(self, submission_id: str) -> bool:
        row = self.outcome(submission_id)
        return bool(
            row is not None
            and row.state in self.RETRIED
            and row.next_attempt_at is not None
            and row.next_attempt_at > utcnow()
        )

    def _remember(self, submission_id: str, **values: Any) -> None:
        """Insert or update the submission's outcome row, in one transaction."""
        where = tables.received.c.submission_id == submission_id
        with self.hub.store.transaction() as conn:
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

    def _retry_later(
        self, dest: Destination, submission_id: str, case_id: str, state: str, reason: str
    ) -> None:
        """Record an outcome that is tried again, with exponential backoff."""
        row = self.outcome(submission_id)
        attempts = (row.attempts if row is not None and row.state in self.RETRIED else 0) + 1
        wait = min(
            self.settings.retry_seconds * 2 ** (attempts - 1), self.settings.retry_max_seconds
        )
        self._remember(
            submission_id,
            destination_id=dest.id,
            case_id=case_id,
            state=state,
            reason=reason[:500],
            attempts=attempts,
            next_attempt_at=utcnow() + timedelta(seconds=wait),
        )
        self.hub.metrics.counter(
            "hub_fitconnect_submissions_retried_total",
            "FIT-Connect submissions not taken yet, by reason (unverified, held, failed)",
            ["state"],
        ).labels(state).inc()

    def _settle_stored(self, dest: Destination, listed: set[str]) -> None:
        """A stored submission no longer waiting was decided (our accept got through before a
        crash or a lost answer): read the case's events and record what was decided."""
        with self.hub.store.reading() as conn:
            stored = conn.execute(
                select(tables.received.c.submission_id, tables.received.c.case_id).where(
                    tables.received.c.state == "stored",
                    tables.received.c.destination_id == dest.id,
                )
            ).all()
        for submission_id, case_id in stored:
            if submission_id in listed:
                continue
            try:
                events = dest.api.events(case_id)
            except hub.AdapterError:
                continue
            for token in events:
                try:
                    event = crypto.read_set(token, dest.signing_key)
                except crypto.CryptoRefused:
                    continue
                if event.subject == f"submission:{submission_id}" and event.event in (
                    "accept-submission",
                    "reject-submission",
                ):
                    state = "accepted" if event.event == "accept-submission" else "rejected"
                    self._remember(submission_id, state=state)
                    log.info(
                        "fitconnect_outcome_settled",
                        submission_id=submission_id,
                        case_id=case_id,
                        state=state,
                    )
                    break

    # --- one submission ------------------------------------------------------------------------

    def handle(self, dest: Destination, submission_id: str, case_id: str) -> str:
        """One submission, start to end; returns accepted, rejected, held or failed."""
        ids = {"submission_id": submission_id, "case_id": case_id, "destination_id": dest.id}
        try:
            try:
                submitted = verify_submitted(dest, case_id, submission_id)
            except Unverified as exc:
                self._retry_later(dest, submission_id, case_id, "unverified", str(exc))
                log.warning("fitconnect_submission_unverified", reason=str(exc), **ids)
                return "failed"
            try:
                got = receive(dest, submission_id, submitted)
            except Rejection as rejection:
                self._reject(dest, submission_id, case_id, rejection.problems)
                return "rejected"
            files = [
                self.hub.attachments.stage(
                    attachment.id,
                    purpose=attachment.purpose,
                    media_type=attachment.media_type,
                    filename=attachment.filename,
                    data=content,
                    source="fitconnect",
                )
                for attachment, content in got.attachments
            ]
            try:
                accepted = self.hub.intake.submit(
                    got.record,
                    client=f"fitconnect:{dest.id}",
                    idempotency_key=f"fitconnect:{submission_id}",
                    files=files,
                )
            except hub.IntakeRejected as exc:
                problems = [(p.field, p.rule) for p in exc.problems]
                if any(f.startswith(OURS) for f, _ in problems):
                    reason = "; ".join(f"{f}: {r}" for f, r in problems)
                    self._retry_later(dest, submission_id, case_id, "held", reason)
                    log.error("fitconnect_submission_held", reason=reason, **ids)
                    return "held"
                self._reject(
                    dest,
                    submission_id,
                    case_id,
                    [
                        _problem("schema-violation", "Nicht annehmbar", f"{f}: {r}", "data")
                        for f, r in problems[:10]
                    ],
                )
                return "rejected"
            self._remember(
                submission_id,
                destination_id=dest.id,
                case_id=case_id,
                record_id=accepted.record_id,
                state="stored",
                reason=None,
                next_attempt_at=None,
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
            log.info("fitconnect_accepted", record_id=accepted.record_id, **ids)
            return "accepted"
        except hub.AdapterError as exc:  # the service is unreachable or refused a call
            log.warning("fitconnect_submission_failed", error=str(exc)[:200], **ids)
            return "failed"
        except Exception as exc:  # a bug or a surprise: recorded, backed off, the loop goes on
            reason = f"unexpected {type(exc).__name__}"
            self._retry_later(dest, submission_id, case_id, "failed", reason)
            log.error("fitconnect_submission_failed", error=reason, **ids)
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
        reasons = [p["type"].rsplit("/", 1)[-1] for p in problems]
        self._remember(
            submission_id,
            destination_id=dest.id,
            case_id=case_id,
            state="rejected",
            reason="; ".join(
                f"{r} ({p['detail']})" for r, p in zip(reasons, problems, strict=True)
            )[:500],
            next_attempt_at=None,
        )
        log.info(
            "fitconnect_rejected",
            submission_id=submission_id,
            case_id=case_id,
            destination_id=dest.id,
            reasons=reasons,
        )


__all__ = [
    "DestinationSettings",
    "Rejection",
    "Subscriber",
    "SubscriberSettings",
    "Unverified",
    "receive",
]


# The running subscriber channel of a hub, for the callback route (set when the channel is built).
SUBSCRIBER: hub.PluginState[Subscriber] = hub.PluginState("fitconnect.subscriber")
