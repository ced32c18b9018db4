"""History entries from backends and the checkpoints of adapters' steps."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Engine,
    delete,
    insert,
    select,
)

from hub.core.store.schema import (
    checkpoints,
    history,
    records,
    status_reports,
)
from hub.core.store.types import utcnow


class History:
    """Statuses reported after delivery, at most once per key, and adapters' step results."""

    # Provided by Connections, which Store combines with this job.
    engine: Engine
    read_engine: Engine
    dialect: str

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
