"""The outbox's state machine: leases, outcomes, backoff and dead letters."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from hub.core.record import (
    RecordStatus,
    overall_status,
)
from hub.core.store.schema import (
    deliveries,
    history,
    records,
)
from hub.core.store.types import (
    ACTIVE,
    Lease,
    Outcome,
    StatusChange,
    utcnow,
)


class Leasing:
    """The outbox: lease due deliveries, renew and release leases, record outcomes, retry."""

    # Provided by Connections, which Store combines with this job.
    engine: Engine
    read_engine: Engine
    dialect: str
    announce: Callable[[Connection], None]

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
                    deliveries.c.task,
                    deliveries.c.payload,
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
                t.task,
                t.payload,
            )
            for t in taken
        ]
        return leases, changes

    def next_due(self) -> datetime | None:
        """When the next queued delivery may be leased: its attempt time, or the end of the
        lease someone holds on it (None: nothing queued)."""
        c = deliveries.c
        when = case(
            (c.lease_expires_at > c.next_attempt_at, c.lease_expires_at), else_=c.next_attempt_at
        )
        with self.read_engine.connect() as conn:
            return conn.execute(select(func.min(when)).where(c.status.in_(ACTIVE))).scalar()

    def renew(self, owner: str, delivery_ids: Iterable[int], lease_seconds: float) -> set[int]:
        """Extend the leases ``owner`` still holds; returns the ids it extended (a lease
        another worker took over meanwhile is not among them)."""
        ids = list(delivery_ids)
        if not ids:
            return set()
        until = utcnow() + timedelta(seconds=lease_seconds)
        held = (
            deliveries.c.id.in_(ids),
            deliveries.c.lease_owner == owner,
            deliveries.c.status == RecordStatus.delivering.value,
        )
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(*held).values(lease_expires_at=until))
            return set(conn.execute(select(deliveries.c.id).where(*held)).scalars())

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
                    detail = f"follow-up {o.lease.task}" if o.lease.task else None
                elif o.kind == "dead_letter":
                    row.update(status=RecordStatus.dead_letter.value)
                    detail = _about(o.lease, o.error)
                else:
                    row.update(next_attempt_at=o.next_attempt_at or now)
                    detail = _about(o.lease, f"attempt {o.lease.attempt} failed: {o.error}")
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

    def add_follow_up(
        self, record_id: str, adapter: str, task: str, payload: str | None
    ) -> tuple[bool, str | None, list[StatusChange]]:
        """Queue a follow-up delivery in the outbox, in one transaction with its history row
        and the record's status. Returns (created, payload, changes): for a task queued
        before, False and the payload stored then (the same request twice sends one message)."""
        now = utcnow()
        where = (
            deliveries.c.record_id == record_id,
            deliveries.c.adapter == adapter,
            deliveries.c.task == task,
        )
        with self.engine.begin() as conn:
            found = conn.execute(select(deliveries.c.payload).where(*where)).first()
            if found is not None:
                return False, found.payload, []
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(deliveries).values(
                            record_id=record_id,
                            adapter=adapter,
                            task=task,
                            payload=payload,
                            status=RecordStatus.accepted.value,
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
            except IntegrityError:  # queued by another request at the same moment
                stored = conn.execute(select(deliveries.c.payload).where(*where)).scalar()
                return False, stored, []
            conn.execute(
                insert(history).values(
                    record_id=record_id,
                    at=now,
                    status="follow_up",
                    adapter=adapter,
                    detail=task,
                )
            )
            changes = self._refresh_record_status(conn, {record_id}, now)
            self.announce(conn)
        return True, payload, [StatusChange(record_id, "follow_up", adapter, task), *changes]

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
            self.announce(conn)
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


def _about(lease: Lease, text: str | None) -> str | None:
    """History detail of a follow-up names its task (a record's adapter may owe several)."""
    return f"follow-up {lease.task}: {text}" if lease.task else text
