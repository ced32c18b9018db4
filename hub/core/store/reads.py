"""Reading records: what the API, the CLI and the metrics ask."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    func,
    or_,
    select,
    text,
)

from hub.core.record import (
    DeliveryState,
    HistoryEntry,
    Record,
    RecordStatus,
    Submission,
)
from hub.core.store.schema import (
    checkpoints,
    deliveries,
    history,
    records,
)
from hub.core.store.types import (
    ACTIVE,
    RecordSummary,
)

# The record list's filters: a key, or a prefix ending in * (API and console alike).
LEIKA_FILTER = r"^[0-9]{1,14}\*?$"
ARS_FILTER = r"^[0-9]{1,12}\*?$"


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


class RecordReads:
    """Records as clients and ops see them: one, a page, counts, dead letters."""

    # Provided by Connections, which Store combines with this job.
    engine: Engine
    read_engine: Engine
    dialect: str

    def get_record(self, record_id: str) -> Record | None:
        with self.read_engine.begin() as conn:
            row = conn.execute(select(records).where(records.c.id == record_id)).first()
            if row is None:
                return None
            dlv = conn.execute(
                select(deliveries)
                .where(deliveries.c.record_id == record_id)
                .order_by(deliveries.c.adapter, deliveries.c.id)
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
                    task=d.task or None,
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
        channel: str | None = None,
        leika: str | None = None,
        ars: str | None = None,
        adapter: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RecordSummary]:
        """Newest first; ``before`` is the (received_at, id) of the last row of the prior page.
        Filters: ``channel``; ``leika`` and ``ars`` as a key or a prefix ending in ``*``;
        ``adapter`` (records with a delivery to that instance); ``since``/``until`` on the
        time received (from inclusive, to exclusive)."""
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
        if channel:
            query = query.where(records.c.channel == channel)
        for column, value in ((records.c.leika_key, leika), (records.c.ars, ars)):
            if value:
                query = query.where(
                    column.like(value[:-1] + "%") if value.endswith("*") else column == value
                )
        if adapter:
            query = query.where(
                select(deliveries.c.id)
                .where(deliveries.c.record_id == records.c.id, deliveries.c.adapter == adapter)
                .exists()
            )
        if since:
            query = query.where(records.c.received_at >= since)
        if until:
            query = query.where(records.c.received_at < until)
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

    def checkpoints(self, record_id: str) -> list[dict[str, Any]]:
        """The steps adapters recorded for a record (names and times; results stay inside)."""
        with self.read_engine.connect() as conn:
            rows = conn.execute(
                select(checkpoints.c.adapter, checkpoints.c.step, checkpoints.c.at)
                .where(checkpoints.c.record_id == record_id)
                .order_by(checkpoints.c.at)
            ).all()
        return [{"adapter": r.adapter, "step": r.step, "at": r.at} for r in rows]

    def count_by_status(self, *, ars_patterns: Iterable[str] = ("*",)) -> dict[str, int]:
        query = _visible_to(
            select(records.c.status, func.count()).group_by(records.c.status), ars_patterns
        )
        with self.read_engine.connect() as conn:
            return {status: n for status, n in conn.execute(query)}

    def dead_letters(
        self, limit: int = 100, *, ars_patterns: Iterable[str] = ("*",)
    ) -> list[dict[str, Any]]:
        """Dead-lettered deliveries of records in ``ars_patterns`` (a client's municipalities)."""
        query = (
            select(
                deliveries.c.record_id,
                deliveries.c.adapter,
                deliveries.c.task,
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
                "task": r.task or None,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "failed_at": r.next_attempt_at.isoformat(),
            }
            for r in rows
        ]
