"""The durable store: records, their deliveries (the outbox), history and step checkpoints.

The same code runs on SQLite (default, WAL with ``synchronous=FULL``) and PostgreSQL. Leasing
uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has a single writer anyway, and every write
transaction there starts with ``BEGIN IMMEDIATE`` so two writers queue instead of failing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from hub.core.errors import ConfigurationError
from hub.core.record import (
    DeliveryState,
    HistoryEntry,
    Record,
    RecordStatus,
    Submission,
    overall_status,
)
from hub.core.store.schema import (
    checkpoints,
    deliveries,
    history,
    record_attachments,
    records,
    status_reports,
)

ACTIVE = (RecordStatus.accepted.value, RecordStatus.delivering.value)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class NewRecord:
    """A validated record ready to be stored, with the adapters it fans out to."""

    record: Record
    client: str
    idempotency_key: str | None
    body_sha256: str
    adapters: list[str]
    # Attachment rows (hub.core.attachments.StagedFile) committed with the record.
    files: Sequence[Any] = ()


@dataclass(frozen=True)
class Accepted:
    record_id: str
    status: str
    replayed: bool = False


@dataclass(frozen=True)
class IdempotencyConflict:
    record_id: str


@dataclass(frozen=True)
class Lease:
    delivery_id: int
    record_id: str
    adapter: str
    attempt: int  # 1-based number of the attempt this lease is for
    received_at: datetime
    status: str
    data: str

    def record(self) -> Record:
        sub = Submission.model_validate_json(self.data)
        # Validated once above; assembling the record needs no second pass.
        return Record.model_construct(
            **dict(sub),
            id=uuid.UUID(self.record_id),
            received_at=self.received_at,
            status=RecordStatus(self.status),
            deliveries=[],
            history=[],
        )


@dataclass(frozen=True)
class Outcome:
    lease: Lease
    kind: Literal["delivered", "retry", "dead_letter"]
    error: str | None = None
    next_attempt_at: datetime | None = None
    receipt: dict[str, Any] | None = None


@dataclass(frozen=True)
class StatusChange:
    record_id: str
    status: str
    adapter: str | None
    detail: str | None = None


@dataclass
class RecordSummary:
    id: str
    status: str
    leika_key: str
    ars: str
    channel: str
    received_at: datetime
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "service": {"leika_key": self.leika_key},
            "municipality": {"ars": self.ars},
            "channel": self.channel,
            "received_at": self.received_at.isoformat(),
        }


def _keys_of(items: Sequence[NewRecord]) -> Any:
    """WHERE clause for these items' (client, key) pairs, led by client so the unique index
    on (client, idempotency_key) serves it instead of a table scan."""
    by_client: dict[str, set[str]] = {}
    for item in items:
        by_client.setdefault(item.client, set()).add(item.idempotency_key or "")
    return or_(
        *(
            and_(records.c.client == client, records.c.idempotency_key.in_(keys))
            for client, keys in by_client.items()
        )
    )


def _visible_to(query: Any, ars_patterns: Iterable[str]) -> Any:
    """Restrict a query over ``records`` to ARS patterns (``05111*``, an exact ARS, or ``*``)."""
    patterns = list(ars_patterns)
    if "*" in patterns:
        return query
    conds = [
        records.c.ars.like(p[:-1] + "%") if p.endswith("*") else records.c.ars == p
        for p in patterns
    ]
    return query.where(or_(*conds)) if conds else query.where(text("1=0"))


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


class Store:
    """All database access of the core. Thread-safe; every method is one transaction."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        try:
            backend = make_url(url).get_backend_name()
        except Exception as exc:
            raise ConfigurationError(f"store.url is not a database URL: {exc}") from exc
        if backend not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"store.url: unsupported database {backend!r} (sqlite, postgresql)"
            )
        self.dialect = backend
        db_file = _sqlite_file(url)
        if db_file is not None:
            try:
                db_file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"store.url: cannot create {db_file.parent}: {exc.strerror}"
                ) from None
        if backend == "sqlite":
            self.engine = self._sqlite_engine(url, immediate=True, echo=echo)
            self.read_engine = self._sqlite_engine(url, immediate=False, echo=echo)
        else:
            self.engine = create_engine(
                url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
            self.read_engine = self.engine

    @staticmethod
    def _sqlite_engine(url: str, *, immediate: bool, echo: bool) -> Engine:
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # an accepted record survives power loss
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    # --- schema --------------------------------------------------------------------------------

    def reachable(self) -> None:
        """Raise :class:`ConfigurationError` naming the store when it cannot be used (server
        down, wrong password, unwritable file): one clear line instead of a traceback."""
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.begin() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            where = make_url(self.url).render_as_string(hide_password=True)
            raise ConfigurationError(f"store {where} cannot be used: {reason}") from None

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (serialised across processes)."""
        from hub.core.store.migrate import upgrade

        upgrade(self.engine)

    def ping(self) -> None:
        with self.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # --- intake --------------------------------------------------------------------------------

    def insert_batch(self, items: Sequence[NewRecord]) -> list[Accepted | IdempotencyConflict]:
        """Store a batch in one transaction (group commit); idempotent per client and key."""
        for _ in range(3):
            try:
                return self._insert_batch_once(items)
            except IntegrityError:
                # Another process stored one of these idempotency keys meanwhile: on the next
                # pass the lookup finds it and the item is answered as a replay or conflict.
                continue
        return self._insert_batch_once(items)

    def _insert_batch_once(
        self, items: Sequence[NewRecord]
    ) -> list[Accepted | IdempotencyConflict]:
        now = utcnow()
        results: list[Accepted | IdempotencyConflict | None] = [None] * len(items)
        with self.engine.begin() as conn:
            keyed = [i for i in items if i.idempotency_key]
            known: dict[tuple[str, str], tuple[str, str, str]] = {}
            if keyed:
                rows = conn.execute(
                    select(
                        records.c.client,
                        records.c.idempotency_key,
                        records.c.id,
                        records.c.body_sha256,
                        records.c.status,
                    ).where(_keys_of(keyed))
                ).all()
                known = {
                    (r.client, r.idempotency_key): (r.id, r.body_sha256, r.status) for r in rows
                }

            rec_rows, dlv_rows, hist_rows, file_rows = [], [], [], []
            for pos, item in enumerate(items):
                key = (item.client, item.idempotency_key) if item.idempotency_key else None
                if key and key in known:
                    rid, body, status = known[key]
                    results[pos] = (
                        Accepted(rid, status, replayed=True)
                        if body == item.body_sha256
                        else IdempotencyConflict(rid)
                    )
                    continue
                rec = item.record
                rid = str(rec.id)
                if key:
                    known[key] = (rid, item.body_sha256, RecordStatus.accepted.value)
                rec_rows.append(
                    {
                        "id": rid,
                        "client": item.client,
                        "idempotency_key": item.idempotency_key,
                        "body_sha256": item.body_sha256,
                        "leika_key": rec.service.leika_key,
                        "ars": rec.municipality.ars,
                        "channel": rec.channel.value,
                        "status": RecordStatus.accepted.value,
                        "received_at": rec.received_at,
                        "updated_at": now,
                        "data": rec.submission_json(),
                    }
                )
                for adapter in item.adapters:
                    dlv_rows.append(
                        {
                            "record_id": rid,
                            "adapter": adapter,
                            "status": RecordStatus.accepted.value,
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                    )
                file_rows.extend(f.row(rid, now) for f in item.files)
                hist_rows.append(
                    {
                        "record_id": rid,
                        "at": now,
                        "status": "accepted",
                        "adapter": None,
                        "detail": None,
                    }
                )
                results[pos] = Accepted(rid, RecordStatus.accepted.value)
            if rec_rows:
                conn.execute(insert(records), rec_rows)
                conn.execute(insert(deliveries), dlv_rows)
                conn.execute(insert(history), hist_rows)
                if file_rows:
                    conn.execute(insert(record_attachments), file_rows)
        return [r for r in results if r is not None]

    # --- reading -------------------------------------------------------------------------------

    def get_record(self, record_id: str) -> Record | None:
        with self.read_engine.begin() as conn:
            row = conn.execute(select(records).where(records.c.id == record_id)).first()
            if row is None:
                return None
            dlv = conn.execute(
                select(deliveries)
                .where(deliveries.c.record_id == record_id)
                .order_by(deliveries.c.adapter)
            ).all()
            hist = conn.execute(
                select(history).where(history.c.record_id == record_id).order_by(history.c.id)
            ).all()
        sub = Submission.model_validate_json(row.data)
        return Record(
            **sub.model_dump(),
            id=uuid.UUID(row.id),
            received_at=row.received_at,
            status=RecordStatus(row.status),
            deliveries=[
                DeliveryState(
                    adapter=d.adapter,
                    status=RecordStatus(d.status),
                    attempts=d.attempts,
                    next_attempt_at=d.next_attempt_at if d.status in ACTIVE else None,
                    delivered_at=d.delivered_at,
                    last_error=d.last_error,
                )
                for d in dlv
            ],
            history=[
                HistoryEntry(at=h.at, status=h.status, adapter=h.adapter, detail=h.detail)
                for h in hist
            ],
        )

    def record_owner(self, record_id: str) -> tuple[str, str] | None:
        """(client, ars) of a record, for authorisation checks."""
        with self.read_engine.connect() as conn:
            row = conn.execute(
                select(records.c.client, records.c.ars).where(records.c.id == record_id)
            ).first()
        return (row.client, row.ars) if row else None

    def list_records(
        self,
        *,
        status: str | None = None,
        ars_patterns: Iterable[str] = ("*",),
        limit: int = 100,
        before: tuple[datetime, str] | None = None,
    ) -> list[RecordSummary]:
        """Newest first; ``before`` is the (received_at, id) of the last row of the prior page."""
        query = select(
            records.c.id,
            records.c.status,
            records.c.leika_key,
            records.c.ars,
            records.c.channel,
            records.c.received_at,
        )
        if status:
            query = query.where(records.c.status == status)
        query = _visible_to(query, ars_patterns)
        if before:
            at, rid = before
            query = query.where(
                or_(
                    records.c.received_at < at,
                    and_(records.c.received_at == at, records.c.id < rid),
                )
            )
        query = query.order_by(records.c.received_at.desc(), records.c.id.desc()).limit(limit)
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            RecordSummary(r.id, r.status, r.leika_key, r.ars, r.channel, r.received_at)
            for r in rows
        ]

    def count_by_status(self) -> dict[str, int]:
        with self.read_engine.connect() as conn:
            rows = conn.execute(select(records.c.status, func.count()).group_by(records.c.status))
            return {status: n for status, n in rows}

    def dead_letters(
        self, limit: int = 100, *, ars_patterns: Iterable[str] = ("*",)
    ) -> list[dict[str, Any]]:
        """Dead-lettered deliveries of records in ``ars_patterns`` (a client's municipalities)."""
        query = (
            select(
                deliveries.c.record_id,
                deliveries.c.adapter,
                deliveries.c.attempts,
                deliveries.c.last_error,
                deliveries.c.next_attempt_at,
            )
            .where(deliveries.c.status == RecordStatus.dead_letter.value)
            .order_by(deliveries.c.id.desc())
            .limit(limit)
        )
        if "*" not in ars_patterns:
            query = _visible_to(
                query.join(records, records.c.id == deliveries.c.record_id), ars_patterns
            )
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "record_id": r.record_id,
                "adapter": r.adapter,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "failed_at": r.next_attempt_at.isoformat(),
            }
            for r in rows
        ]

    # --- delivery ------------------------------------------------------------------------------

    def lease(
        self, owner: str, limit: int, lease_seconds: float
    ) -> tuple[list[Lease], list[StatusChange]]:
        """Take up to ``limit`` due deliveries nobody holds a live lease on."""
        now = utcnow()
        until = now + timedelta(seconds=lease_seconds)
        due = (
            select(deliveries.c.id)
            .where(deliveries.c.status.in_(ACTIVE))
            .where(deliveries.c.next_attempt_at <= now)
            .where(
                or_(deliveries.c.lease_expires_at.is_(None), deliveries.c.lease_expires_at <= now)
            )
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        changes: list[StatusChange] = []
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(due.scalar_subquery()))
                .values(
                    lease_owner=owner, lease_expires_at=until, status=RecordStatus.delivering.value
                )
                .returning(
                    deliveries.c.id,
                    deliveries.c.record_id,
                    deliveries.c.adapter,
                    deliveries.c.attempts,
                )
            ).all()
            if not taken:
                return [], []
            ids = {t.record_id for t in taken}
            rows = {
                r.id: r
                for r in conn.execute(
                    select(
                        records.c.id, records.c.received_at, records.c.status, records.c.data
                    ).where(records.c.id.in_(ids))
                )
            }
            first = [t for t in taken if t.attempts == 0]
            if first:
                conn.execute(
                    insert(history),
                    [
                        {
                            "record_id": t.record_id,
                            "at": now,
                            "status": "delivering",
                            "adapter": t.adapter,
                            "detail": None,
                        }
                        for t in first
                    ],
                )
                changes += [StatusChange(t.record_id, "delivering", t.adapter) for t in first]
            fresh = [rid for rid in ids if rows[rid].status == RecordStatus.accepted.value]
            if fresh:
                conn.execute(
                    update(records)
                    .where(records.c.id.in_(fresh))
                    .values(status=RecordStatus.delivering.value, updated_at=now)
                )
                conn.execute(
                    insert(history),
                    [
                        {
                            "record_id": rid,
                            "at": now,
                            "status": "delivering",
                            "adapter": None,
                            "detail": None,
                        }
                        for rid in fresh
                    ],
                )
                changes += [StatusChange(rid, "delivering", None) for rid in fresh]
        leases = [
            Lease(
                t.id,
                t.record_id,
                t.adapter,
                t.attempts + 1,
                rows[t.record_id].received_at,
                RecordStatus.delivering.value,
                rows[t.record_id].data,
            )
            for t in taken
        ]
        return leases, changes

    def renew(self, owner: str, delivery_ids: Iterable[int], lease_seconds: float) -> int:
        ids = list(delivery_ids)
        if not ids:
            return 0
        until = utcnow() + timedelta(seconds=lease_seconds)
        with self.engine.begin() as conn:
            res = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id.in_(ids),
                    deliveries.c.lease_owner == owner,
                    deliveries.c.status == RecordStatus.delivering.value,
                )
                .values(lease_expires_at=until)
            )
            return res.rowcount or 0

    def release(self, owner: str, delivery_ids: Iterable[int]) -> None:
        """Give leases back unused (shutdown) so another worker can take them at once."""
        ids = list(delivery_ids)
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids), deliveries.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def complete(self, owner: str, outcomes: Sequence[Outcome]) -> list[StatusChange]:
        """Record delivery outcomes; outcomes whose lease was lost meanwhile are ignored."""
        if not outcomes:
            return []
        now = utcnow()
        changes: list[StatusChange] = []
        with self.engine.begin() as conn:
            held = set(
                conn.execute(
                    select(deliveries.c.id)
                    .where(
                        deliveries.c.id.in_([o.lease.delivery_id for o in outcomes]),
                        deliveries.c.lease_owner == owner,
                    )
                    .with_for_update()
                ).scalars()
            )
            mine = [o for o in outcomes if o.lease.delivery_id in held]
            if not mine:
                return []
            rows, hist = [], []
            for o in mine:
                row = {
                    "b_id": o.lease.delivery_id,
                    "attempts": o.lease.attempt,
                    "last_error": o.error,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "status": RecordStatus.delivering.value,
                    "next_attempt_at": now,
                    "delivered_at": None,
                    "receipt": None,
                }
                if o.kind == "delivered":
                    row.update(
                        status=RecordStatus.delivered.value,
                        delivered_at=now,
                        receipt=json.dumps(o.receipt) if o.receipt else None,
                    )
                    detail = None
                elif o.kind == "dead_letter":
                    row.update(status=RecordStatus.dead_letter.value)
                    detail = o.error
                else:
                    row.update(next_attempt_at=o.next_attempt_at or now)
                    detail = f"attempt {o.lease.attempt} failed: {o.error}"
                rows.append(row)
                hist.append(
                    {
                        "record_id": o.lease.record_id,
                        "at": now,
                        "adapter": o.lease.adapter,
                        "status": "retry" if o.kind == "retry" else row["status"],
                        "detail": detail,
                    }
                )
                if o.kind != "retry":
                    changes.append(
                        StatusChange(o.lease.record_id, row["status"], o.lease.adapter, detail)
                    )
            conn.execute(
                update(deliveries).where(deliveries.c.id == bindparam("b_id")),
                rows,
            )
            conn.execute(insert(history), hist)
            changes += self._refresh_record_status(conn, {o.lease.record_id for o in mine}, now)
        return changes

    def _refresh_record_status(
        self, conn: Connection, record_ids: set[str], now: datetime
    ) -> list[StatusChange]:
        statuses: dict[str, list[RecordStatus]] = {rid: [] for rid in record_ids}
        for rid, status in conn.execute(
            select(deliveries.c.record_id, deliveries.c.status).where(
                deliveries.c.record_id.in_(record_ids)
            )
        ):
            statuses[rid].append(RecordStatus(status))
        current = dict(
            conn.execute(
                select(records.c.id, records.c.status).where(records.c.id.in_(record_ids))
            ).all()
        )
        changed = {
            rid: overall_status(s).value
            for rid, s in statuses.items()
            if overall_status(s).value != current.get(rid)
        }
        if not changed:
            return []
        conn.execute(
            update(records).where(records.c.id == bindparam("b_id")),
            [{"b_id": rid, "status": st, "updated_at": now} for rid, st in changed.items()],
        )
        conn.execute(
            insert(history),
            [
                {"record_id": rid, "at": now, "status": st, "adapter": None, "detail": None}
                for rid, st in changed.items()
            ],
        )
        return [StatusChange(rid, st, None) for rid, st in changed.items()]

    def retry_dead_letters(self, record_id: str) -> list[StatusChange]:
        """Put a record's dead-lettered deliveries back in the queue with fresh attempts."""
        now = utcnow()
        with self.engine.begin() as conn:
            adapters = list(
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.record_id == record_id,
                        deliveries.c.status == RecordStatus.dead_letter.value,
                    )
                    .values(
                        status=RecordStatus.accepted.value,
                        attempts=0,
                        next_attempt_at=now,
                        lease_owner=None,
                        lease_expires_at=None,
                    )
                    .returning(deliveries.c.adapter)
                ).scalars()
            )
            if not adapters:
                return []
            conn.execute(
                insert(history),
                [
                    {
                        "record_id": record_id,
                        "at": now,
                        "status": "retry_requested",
                        "adapter": a,
                        "detail": "manual retry",
                    }
                    for a in adapters
                ],
            )
            changes = self._refresh_record_status(conn, {record_id}, now)
        return [
            StatusChange(record_id, "retry_requested", a, "manual retry") for a in adapters
        ] + changes

    def add_history(
        self,
        record_id: str,
        status: str,
        adapter: str | None,
        detail: str | None,
        *,
        key: str | None = None,
    ) -> bool:
        """Add a history entry; False if the record is unknown or ``key`` was applied before
        (the key and the entry are written in one transaction)."""
        with self.engine.begin() as conn:
            exists = conn.execute(select(records.c.id).where(records.c.id == record_id)).first()
            if exists is None:
                return False
            if key is not None:
                seen = conn.execute(
                    select(status_reports.c.key).where(status_reports.c.key == key)
                ).first()
                if seen is not None:
                    return False
                conn.execute(
                    insert(status_reports).values(key=key, record_id=record_id, at=utcnow())
                )
            conn.execute(
                insert(history).values(
                    record_id=record_id,
                    at=utcnow(),
                    status=status,
                    adapter=adapter,
                    detail=detail,
                )
            )
            return True

    def status_report_seen(self, key: str) -> bool:
        with self.read_engine.connect() as conn:
            found = conn.execute(
                select(status_reports.c.key).where(status_reports.c.key == key)
            ).first()
        return found is not None

    # --- checkpoints ---------------------------------------------------------------------------

    def checkpoint_get(self, record_id: str, adapter: str, step: str) -> tuple[bool, Any]:
        with self.read_engine.connect() as conn:
            row = conn.execute(
                select(checkpoints.c.result).where(
                    checkpoints.c.record_id == record_id,
                    checkpoints.c.adapter == adapter,
                    checkpoints.c.step == step,
                )
            ).first()
        return (True, json.loads(row.result)) if row else (False, None)

    def checkpoint_put(self, record_id: str, adapter: str, step: str, result: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(checkpoints).where(
                    checkpoints.c.record_id == record_id,
                    checkpoints.c.adapter == adapter,
                    checkpoints.c.step == step,
                )
            )
            conn.execute(
                insert(checkpoints).values(
                    record_id=record_id,
                    adapter=adapter,
                    step=step,
                    result=json.dumps(result),
                    at=utcnow(),
                )
            )
