"""Intake's writes: a batch of records with their deliveries, history and attachment rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    insert,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError

from hub.core.record import RecordStatus
from hub.core.store.schema import (
    deliveries,
    history,
    record_attachments,
    records,
)
from hub.core.store.types import (
    Accepted,
    IdempotencyConflict,
    NewRecord,
    utcnow,
)


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


class IntakeWrites:
    """Storing accepted records in one transaction per batch (group commit)."""

    # Provided by Connections, which Store combines with this job.
    engine: Engine
    read_engine: Engine
    dialect: str
    announce: Callable[[Connection], None]

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
                self.announce(conn)
        return [r for r in results if r is not None]
