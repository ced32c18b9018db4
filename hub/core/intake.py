"""Intake: validate, enrich and route a submission, then commit it before anyone is answered.

Durability costs one fsync per transaction. Concurrent submissions therefore meet in a
:class:`GroupCommitter`: one thread takes whatever is queued, writes it in a single transaction
and only then resolves each caller's future. Under load many records share one fsync; alone, a
record is committed at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import ValidationError

from hub.core.attachments import StagedFile
from hub.core.context import EnrichContext
from hub.core.errors import Conflict, FieldProblem, IntakeRejected
from hub.core.jsonbody import non_finite
from hub.core.problems import field_problems
from hub.core.record import Applicant, Record, RecordStatus, Submission
from hub.core.registry import IdentityClaim
from hub.core.store import Accepted, IdempotencyConflict, NewRecord, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from hub.core.hub import Hub

log = structlog.get_logger("hub.intake")

_STOP = object()
Outcome = Accepted | IdempotencyConflict
Waiter = Future[Outcome] | asyncio.Future[Outcome]


def body_digest(sub: Submission) -> str:
    """SHA-256 of the validated submission: formatting and top-level key order do not matter."""
    return hashlib.sha256(sub.__pydantic_serializer__.to_json(sub)).hexdigest()


def _apply_claim(applicant: Applicant | None, claim: IdentityClaim) -> Applicant:
    """The provider's values win over the client's, field by field; the identity is the
    provider's. A claim that leaves the applicant invalid is refused, naming the field."""
    merged = applicant.model_dump() if applicant is not None else {}
    merged.update({k: v for k, v in claim.applicant.items() if v is not None})
    merged["identity"] = claim.identity.model_dump()
    try:
        return Applicant.model_validate(merged)
    except ValidationError as exc:
        problems = [
            FieldProblem(f"applicant.{p.field}", p.rule, p.message)
            for p in field_problems(exc.errors(include_url=False))
        ]
        raise IntakeRejected(problems) from None


def _route_keys(sub: Submission) -> tuple[str, str, str]:
    return (sub.service.leika_key, sub.municipality.ars, sub.channel.value)


class GroupCommitter:
    """One writer thread that commits queued records in batches."""

    def __init__(self, hub: Hub, batch_max: int):
        self._hub = hub
        self._batch_max = batch_max
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hub-intake-commit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def submit(self, item: NewRecord) -> Future[Outcome]:
        """Queue ``item``; the future resolves once it is committed (for threads)."""
        fut: Future[Outcome] = Future()
        if self._thread is None:
            # Not started (CLI, tests): commit synchronously, same semantics.
            self._commit([(item, fut)])
        else:
            self._queue.put((item, fut))
        return fut

    def submit_async(self, item: NewRecord) -> asyncio.Future[Outcome]:
        """Queue ``item`` from a coroutine; awaitable, resolved on the caller's loop."""
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if self._thread is None:
            self._commit([(item, fut)])
        else:
            self._queue.put((item, fut))
        return fut

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self._batch_max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)  # type: ignore[arg-type]
            if stop:
                return

    def _commit(self, batch: list[tuple[NewRecord, Waiter]]) -> None:
        try:
            results: list[Outcome | BaseException] = list(
                self._hub.store.insert_batch([item for item, _ in batch])
            )
        except Exception as exc:  # the store is down: every waiting caller gets the error
            log.error("intake_commit_failed", error=type(exc).__name__, batch=len(batch))
            results = [exc] * len(batch)
        # Event-loop waiters are settled with one wake-up per loop, not one per record.
        per_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Outcome], Any]]] = {}
        for (_, waiter), result in zip(batch, results, strict=True):
            if isinstance(waiter, asyncio.Future):
                per_loop.setdefault(waiter.get_loop(), []).append((waiter, result))
            elif isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)
        for loop, settled in per_loop.items():
            if loop.is_running():
                loop.call_soon_threadsafe(_settle, settled)
            else:
                _settle(settled)
        if not isinstance(results[0], BaseException):
            self._hub.after_intake(
                [(item, res) for (item, _), res in zip(batch, results, strict=True)]  # type: ignore[misc]
            )


def _settle(settled: list[tuple[asyncio.Future[Outcome], Any]]) -> None:
    for fut, result in settled:
        if fut.done():  # the client went away and the request was cancelled
            continue
        if isinstance(result, BaseException):
            fut.set_exception(result)
        else:
            fut.set_result(result)


class Intake:
    """The one path by which records enter the hub (HTTP API, channels, CLI)."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.committer = GroupCommitter(hub, hub.config.store.intake_batch_max)

    def prepare(
        self,
        sub: Submission,
        *,
        client: str,
        idempotency_key: str | None = None,
        identity: IdentityClaim | None = None,
        files: Sequence[StagedFile] = (),
    ) -> NewRecord:
        """Validate, enrich and route; raises :class:`IntakeRejected`. Touches no storage
        (``files`` were staged by :meth:`AttachmentStore.stage`; their rows commit with the
        record)."""
        try:
            return self._prepare(sub, client, idempotency_key, identity, files)
        except IntakeRejected as exc:
            self.rejected(exc, channel=sub.channel.value, client=client)
            raise

    def rejected(self, exc: IntakeRejected, *, channel: str, client: str | None) -> None:
        """Count and log a refused submission: ids, fields and rules, never the values."""
        rule = exc.problems[0].rule if exc.problems else "unknown"
        self.hub.metrics.rejected.labels(channel, rule).inc()
        log.info(
            "intake_rejected",
            client=client,
            channel=channel,
            status=exc.status_code,
            problems=[f"{p.field}: {p.rule}" for p in exc.problems[:10]],
        )

    def _prepare(
        self,
        sub: Submission,
        client: str,
        idempotency_key: str | None,
        identity: IdentityClaim | None,
        files: Sequence[StagedFile],
    ) -> NewRecord:
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
            raise IntakeRejected.one(
                "Idempotency-Key", "length", "must be 1 to 255 characters", status_code=400
            )
        if sub.payload and (bad := non_finite(sub.payload, "payload")) is not None:
            raise IntakeRejected(bad, status_code=400)
        digest = body_digest(sub)
        registry = self.hub.registry
        # Route first: a plugin's schema and checks bind only the records routed to its
        # adapters, so installing a plugin changes nothing for the others.
        adapters = self.hub.router.require(sub)
        active = registry.active_for({self.hub.config.adapter_type(a) for a in adapters})
        problems = registry.payload_schemas.problems(sub.service.leika_key, sub.payload, active)
        if problems:
            raise IntakeRejected(problems)
        # The submission is validated already: build the record from its parts without a
        # second validation pass (intake's hot path).
        record = Record.model_construct(
            **dict(sub),
            id=uuid.uuid4(),
            received_at=utcnow(),
            status=RecordStatus.accepted,
            deliveries=[],
            history=[],
        )
        if identity is not None:
            record.applicant = _apply_claim(record.applicant, identity)
        if registry.enrichers:
            ctx = EnrichContext(hub=self.hub, client=client)
            for enricher in registry.enrichers:
                if not enricher.routed_only or active(enricher.plugin):
                    enricher.fn(record, ctx)
            # Enrichers mutate freely; the result must still be a valid record.
            try:
                record = Record.model_validate(record.model_dump())
            except Exception as exc:
                raise IntakeRejected(FieldProblem("(record)", "enrichment", str(exc))) from exc
            if _route_keys(record) != _route_keys(sub):  # an enricher changed what routes
                adapters = self.hub.router.require(record)
        return NewRecord(record, client, idempotency_key, digest, adapters, files)

    def submit(
        self,
        sub: Submission,
        *,
        client: str,
        idempotency_key: str | None = None,
        identity: IdentityClaim | None = None,
        files: Sequence[StagedFile] = (),
    ) -> Accepted:
        """Prepare and durably store a submission; returns once it is committed. ``files``:
        staged attachments, stored in the same transaction as the record."""
        item = self.prepare(
            sub, client=client, idempotency_key=idempotency_key, identity=identity, files=files
        )
        return self.resolve(self.committer.submit(item).result())

    @staticmethod
    def resolve(result: Accepted | IdempotencyConflict) -> Accepted:
        if isinstance(result, IdempotencyConflict):
            raise Conflict.one(
                "Idempotency-Key",
                "idempotency_reuse",
                f"this key was already used for record {result.record_id} with another body",
            )
        return result
