"""People who work with the hub: accounts with roles and the municipalities they may see,
passwords as argon2id hashes (argon2-cffi), console sessions with a CSRF token each, and an
audit trail of every change a person made.

A signed-in person acts as an API client would: their roles give scopes, their municipalities
the same ARS patterns, so :func:`hub.may_act_for` and every store query scope them exactly like
a client — a ServiceCenter of city A never sees city B.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update

from hub.core.config import ClientConfig
from hub.core.errors import IntakeRejected
from hub.core.store.schema import staff_accounts, staff_audit, staff_sessions
from hub.core.store.types import utcnow

log = structlog.get_logger("hub.staff")

# What each role may do, as API scopes (the console checks the same scopes as the API).
ROLES: dict[str, tuple[str, ...]] = {
    "ops": ("records:read", "admin"),
    "service_center": ("records:read", "records:write"),
    "mobile_office": ("records:read", "records:write"),
    "reporting": ("records:read",),
}
SESSION_HOURS = 10  # a working day; then sign in again
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")
_ARS_PATTERN = re.compile(r"^(\*|[0-9]{1,12}\*?)$")
_HASHER = PasswordHasher()  # argon2id with the library's current parameters
# Verifying against this when the account is unknown takes as long as a real check.
_DUMMY = _HASHER.hash("no such account")


@dataclass(frozen=True)
class Staff:
    username: str
    display_name: str
    roles: tuple[str, ...]
    municipalities: tuple[str, ...]

    def can(self, scope: str) -> bool:
        return any(scope in ROLES.get(role, ()) for role in self.roles)

    def as_client(self) -> ClientConfig:
        """The API client this person acts as (same scopes, same municipalities)."""
        scopes = sorted({s for role in self.roles for s in ROLES.get(role, ())})
        return ClientConfig(
            name=f"staff.{self.username}",
            token_sha256="0" * 64,  # never matches a bearer token: sessions only
            scopes=scopes,
            municipalities=list(self.municipalities),
        )


@dataclass(frozen=True)
class Session:
    staff: Staff
    csrf: str


def _bad(field: str, rule: str, message: str) -> IntakeRejected:
    return IntakeRejected.one(field, rule, message, status_code=400)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class StaffStore:
    """Accounts, sessions and the audit trail in the hub's store."""

    def __init__(self, store: Any):
        self.store = store

    # --- accounts ------------------------------------------------------------------------

    def add(
        self,
        username: str,
        *,
        display_name: str,
        password: str | None,
        roles: list[str],
        municipalities: list[str],
        by: str,
    ) -> Staff:
        if not _USERNAME.match(username):
            raise _bad("username", "pattern", "2–64 of a-z, 0-9, _ . - (lower case)")
        unknown = [r for r in roles if r not in ROLES]
        if not roles or unknown:
            raise _bad("roles", "choice", f"one or more of {', '.join(ROLES)}")
        if not municipalities or not all(_ARS_PATTERN.match(m) for m in municipalities):
            raise _bad("municipalities", "pattern", "ARS, ARS prefixes ending in * or *")
        if password is not None and len(password) < 12:
            raise _bad("password", "min_length", "at least 12 characters")
        if self.get(username) is not None:
            raise _bad("username", "taken", f"{username} exists already")
        with self.store.transaction() as conn:
            conn.execute(
                insert(staff_accounts).values(
                    username=username,
                    display_name=display_name or username,
                    password_hash=_HASHER.hash(password) if password else None,
                    roles=json.dumps(roles),
                    municipalities=json.dumps(municipalities),
                    active=1,
                    created_at=utcnow(),
                )
            )
        self.audit(by, "staff.add", username, f"roles={','.join(roles)}")
        found = self.get(username)
        assert found is not None
        return found

    def get(self, username: str) -> Staff | None:
        with self.store.reading() as conn:
            row = conn.execute(
                select(staff_accounts).where(
                    staff_accounts.c.username == username, staff_accounts.c.active == 1
                )
            ).first()
        return _staff(row) if row else None

    def list(self) -> list[tuple[Staff, bool]]:
        with self.store.reading() as conn:
            rows = conn.execute(select(staff_accounts).order_by(staff_accounts.c.username)).all()
        return [(_staff(r), bool(r.active)) for r in rows]

    def disable(self, username: str, *, by: str) -> bool:
        with self.store.transaction() as conn:
            done = conn.execute(
                update(staff_accounts).where(staff_accounts.c.username == username).values(active=0)
            ).rowcount
            conn.execute(delete(staff_sessions).where(staff_sessions.c.username == username))
        if done:
            self.audit(by, "staff.disable", username)
        return bool(done)

    def verify(self, username: str, password: str) -> Staff | None:
        """The account if the password is right (the same work either way when it is not)."""
        with self.store.reading() as conn:
            row = conn.execute(
                select(staff_accounts).where(
                    staff_accounts.c.username == username, staff_accounts.c.active == 1
                )
            ).first()
        stored = row.password_hash if row is not None and row.password_hash else _DUMMY
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.password_hash:
            return None
        if _HASHER.check_needs_rehash(stored):
            with self.store.transaction() as conn:
                conn.execute(
                    update(staff_accounts)
                    .where(staff_accounts.c.username == username)
                    .values(password_hash=_HASHER.hash(password))
                )
        return _staff(row)

    # --- sessions ------------------------------------------------------------------------

    def open_session(self, staff: Staff) -> tuple[str, str]:
        """A new session: (the cookie's value, its CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        with self.store.transaction() as conn:
            conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at < now))
            conn.execute(
                insert(staff_sessions).values(
                    id_sha256=_digest(sid),
                    username=staff.username,
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + timedelta(hours=SESSION_HOURS),
                )
            )
        self.audit(staff.username, "session.open")
        return sid, csrf

    def session(self, sid: str | None) -> Session | None:
        if not sid or len(sid) > 128:
            return None
        with self.store.reading() as conn:
            row = conn.execute(
                select(staff_sessions).where(
                    staff_sessions.c.id_sha256 == _digest(sid),
                    staff_sessions.c.expires_at > utcnow(),
                )
            ).first()
        if row is None:
            return None
        staff = self.get(row.username)
        return Session(staff, row.csrf) if staff is not None else None

    def close_session(self, sid: str, username: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(delete(staff_sessions).where(staff_sessions.c.id_sha256 == _digest(sid)))
        self.audit(username, "session.close")

    # --- audit ---------------------------------------------------------------------------

    def audit(
        self, username: str, action: str, target: str | None = None, detail: str | None = None
    ) -> None:
        """Who changed what, when (ids and names of things, never a citizen's data)."""
        with self.store.transaction() as conn:
            conn.execute(
                insert(staff_audit).values(
                    at=utcnow(),
                    username=username,
                    action=action,
                    target=target,
                    detail=detail[:1000] if detail else None,
                )
            )
        log.info("staff_audit", user=username, action=action)

    def audit_trail(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.store.reading() as conn:
            rows = conn.execute(
                select(staff_audit).order_by(staff_audit.c.id.desc()).limit(limit)
            ).all()
        return [
            {
                "at": r.at,
                "username": r.username,
                "action": r.action,
                "target": r.target,
                "detail": r.detail,
            }
            for r in rows
        ]


def _staff(row: Any) -> Staff:
    return Staff(
        row.username,
        row.display_name,
        tuple(json.loads(row.roles)),
        tuple(json.loads(row.municipalities)),
    )


__all__ = ["ROLES", "Session", "Staff", "StaffStore"]
