"""Requests we sent, assertions we have seen, and sessions — in the hub's store, so every hub
process shares them and a restart forgets nothing."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub import Store, utcnow
from hub_bundid import tables
from hub_bundid.constants import SESSION_LIMITS
from hub_bundid.errors import SamlError
from hub_bundid.response import LoginResult

MIGRATIONS = Path(__file__).parent / "migrations"


class Ledger:
    def __init__(self, store: Store):
        self.store = store

    def assertion_seen(self, assertion_id: str) -> bool:
        with self.store.reading() as conn:
            return (
                conn.execute(
                    select(tables.assertions.c.id).where(tables.assertions.c.id == assertion_id)
                ).first()
                is not None
            )

    def complete_login(
        self, result: LoginResult, session: dict[str, Any], *, request_expires: datetime
    ) -> str:
        """In one transaction: use up the request (one response per request: only logins
        that succeed leave a row), record the assertion, open the session."""
        now = utcnow()
        sid = secrets.token_urlsafe(32)
        absolute, idle = SESSION_LIMITS[result.level]
        with self.store.transaction() as conn:  # an error below rolls all of it back
            try:
                conn.execute(
                    insert(tables.requests).values(
                        id=result.request_id,
                        min_rank=result.rank,
                        created_at=now,
                        expires_at=request_expires,
                        used_at=now,
                    )
                )
            except IntegrityError:
                raise SamlError("unknown_request", "the login request was already used") from None
            try:
                conn.execute(
                    insert(tables.assertions).values(
                        id=result.assertion_id, expires_at=result.assertion_expires
                    )
                )
            except IntegrityError:
                raise SamlError("replayed", "this assertion was used before") from None
            conn.execute(
                insert(tables.sessions).values(
                    sid=sid,
                    level=result.level,
                    created_at=now,
                    last_seen=now,
                    expires_at=now + timedelta(seconds=absolute),
                    idle_seconds=idle,
                    data=json.dumps(session, ensure_ascii=False),
                )
            )
        return sid

    def session(self, sid: str, now: datetime | None = None) -> dict[str, Any] | None:
        """The session's data if it is alive (idle and absolute limits), touching it."""
        now = now or utcnow()
        with self.store.transaction() as conn:
            row = conn.execute(select(tables.sessions).where(tables.sessions.c.sid == sid)).first()
            if row is None:
                return None
            if row.expires_at <= now or row.last_seen + timedelta(seconds=row.idle_seconds) <= now:
                conn.execute(delete(tables.sessions).where(tables.sessions.c.sid == sid))
                return None
            conn.execute(
                update(tables.sessions).where(tables.sessions.c.sid == sid).values(last_seen=now)
            )
        data = json.loads(row.data)
        data["session"] = {
            "created_at": row.created_at.isoformat(),
            "expires_at": row.expires_at.isoformat(),
            "idle_seconds": row.idle_seconds,
        }
        return data

    def end_session(self, sid: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(delete(tables.sessions).where(tables.sessions.c.sid == sid))

    def purge(self) -> None:
        now = utcnow()
        with self.store.transaction() as conn:
            conn.execute(delete(tables.sessions).where(tables.sessions.c.expires_at <= now))
            conn.execute(delete(tables.assertions).where(tables.assertions.c.expires_at <= now))
            conn.execute(delete(tables.requests).where(tables.requests.c.expires_at <= now))
