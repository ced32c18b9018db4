"""Devices, cases, uploads and the audit trail in the hub's database; encrypted bytes on disk."""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub import utcnow
from hub_bundesdruckerei import crypto, tables
from hub_bundesdruckerei.settings import KofferSettings

MIGRATIONS = Path(__file__).parent / "migrations"
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
CASE_RULE = re.compile(r"^[A-Za-z0-9_.\-]{8,64}$")
TOKEN_PREFIX = "koffer_"


class DeviceError(ValueError):
    """A device could not be registered or found (the message says why)."""


@dataclass(frozen=True)
class Device:
    name: str
    municipality: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Upload:
    id: str
    device: str
    case_id: str
    purpose: str
    length: int
    offset: int
    segments: int
    stored: int
    sha256: str | None
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    location: str | None = None

    @property
    def complete(self) -> bool:
        return self.completed_at is not None


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KofferStore:
    def __init__(self, settings: KofferSettings, store: Any):
        self.settings = settings
        self.store = store
        self.data_dir = Path(settings.data_dir)
        self._master: bytes | None = None
        self._revoked_cache: dict[str, tuple[float, bool]] = {}
        self._hashes: dict[str, tuple[int, Any]] = {}  # upload id -> (offset, running SHA-256)
        self._lock = threading.Lock()

    @property
    def master(self) -> bytes:
        if self._master is None:
            self._master = self.settings.master()
        return self._master

    # --- audit -------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, subject: str, detail: str | None = None) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                insert(tables.audit).values(
                    at=utcnow(), actor=actor, action=action, subject=subject, detail=detail
                )
            )

    def audit_trail(self, subject_prefix: str | None = None) -> list[dict[str, Any]]:
        query = select(tables.audit).order_by(tables.audit.c.id)
        if subject_prefix:
            query = query.where(tables.audit.c.subject.startswith(subject_prefix))
        with self.store.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # --- devices -----------------------------------------------------------------------------

    def register(self, name: str, municipality: str, *, actor: str = "cli") -> str:
        """A new device credential; returned once, only its hash is kept."""
        if not NAME_RULE.fullmatch(name):
            raise DeviceError("name: letters, digits, '.', '_' or '-', at most 64")
        if not re.fullmatch(r"[0-9]{12}", municipality):
            raise DeviceError("municipality: a 12-digit Amtlicher Regionalschlüssel (ARS)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self.store.transaction() as conn:
                conn.execute(
                    insert(tables.devices).values(
                        name=name,
                        municipality=municipality,
                        token_sha256=_sha(token),
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            raise DeviceError(f"a device named {name!r} exists already") from None
        self.audit(actor, "device_registered", f"device:{name}", f"municipality {municipality}")
        return token

    def devices(self) -> list[Device]:
        with self.store.reading() as conn:
            rows = conn.execute(select(tables.devices).order_by(tables.devices.c.name)).all()
        return [Device(r.name, r.municipality, r.created_at, r.revoked_at) for r in rows]

    def activity(self, since: datetime) -> dict[str, tuple[int, int]]:
        """Per device: uploads begun since ``since`` still in progress, and completed ones
        (numbers only — what the console's Bürgerkoffer page shows)."""
        u = tables.uploads
        query = (
            select(u.c.device, u.c.completed_at.is_(None).label("open"), func.count())
            .where(u.c.created_at >= since)
            .group_by(u.c.device, u.c.completed_at.is_(None))
        )
        found: dict[str, tuple[int, int]] = {}
        with self.store.reading() as conn:
            for device, is_open, n in conn.execute(query):
                running, done = found.get(device, (0, 0))
                found[device] = (running + n, done) if is_open else (running, done + n)
        return found

    def revoke(self, name: str, *, actor: str = "cli") -> None:
        with self.store.transaction() as conn:
            done = conn.execute(
                update(tables.devices)
                .where(tables.devices.c.name == name, tables.devices.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            ).rowcount
        if not done:
            raise DeviceError(f"no active device named {name!r}")
        with self._lock:
            self._revoked_cache.pop(name, None)
        self.audit(actor, "device_revoked", f"device:{name}")

    def authenticate(self, token: str) -> Device | None:
        """The active device holding ``token``, or None."""
        with self.store.reading() as conn:
            row = conn.execute(
                select(tables.devices).where(tables.devices.c.token_sha256 == _sha(token))
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return Device(row.name, row.municipality, row.created_at, row.revoked_at)

    def revoked_cached(self, name: str, *, max_age: float = 0.25) -> bool | None:
        """The cached answer of :meth:`is_revoked` while fresh, else None (ask the database)."""
        with self._lock:
            cached = self._revoked_cache.get(name)
        if cached and time.monotonic() - cached[0] < max_age:
            return cached[1]
        return None

    def is_revoked(self, name: str, *, max_age: float = 0.25) -> bool:
        """Whether the device was revoked; asked often during an upload, so cached briefly."""
        cached = self.revoked_cached(name, max_age=max_age)
        if cached is not None:
            return cached
        now = time.monotonic()
        with self.store.reading() as conn:
            row = conn.execute(
                select(tables.devices.c.revoked_at).where(tables.devices.c.name == name)
            ).first()
        revoked = row is None or row.revoked_at is not None
        with self._lock:
            self._revoked_cache[name] = (now, revoked)
        return revoked

    # --- cases and their keys ------------------------------------------------------------------

    def case_key(self, case_id: str, device: str) -> bytes:
        """The data key of ``case_id`` (made on first use); the case belongs to one device."""
        with self.store.reading() as conn:
            row = conn.execute(select(tables.cases).where(tables.cases.c.id == case_id)).first()
        if row is None:
            wrapped = crypto.wrap(self.master, crypto.new_data_key())
            try:
                with self.store.transaction() as conn:
                    conn.execute(
                        insert(tables.cases).values(
                            id=case_id, device=device, wrapped_key=wrapped, created_at=utcnow()
                        )
                    )
            except IntegrityError:  # made concurrently by the same device
                pass
            return self.case_key(case_id, device)
        if row.device != device:
            raise PermissionError("the case belongs to another device")
        if row.wrapped_key is None:
            raise LookupError("the case's data was destroyed")
        return crypto.unwrap(self.master, row.wrapped_key)

    def destroy_case(self, case_id: str, *, actor: str, why: str) -> bool:
        """Destroy the case's data key and its encrypted files (crypto-shredding plus deletion).
        Returns False when it was destroyed before."""
        with self.store.transaction() as conn:
            done = conn.execute(
                update(tables.cases)
                .where(tables.cases.c.id == case_id, tables.cases.c.destroyed_at.is_(None))
                .values(wrapped_key=None, destroyed_at=utcnow(), destroyed_why=why)
            ).rowcount
        shutil.rmtree(self.case_dir(case_id), ignore_errors=True)
        if done:
            self.audit(actor, "data_destroyed", f"case:{case_id}", why)
        return bool(done)

    def bind_record(self, case_id: str, record_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                update(tables.cases).where(tables.cases.c.id == case_id).values(record_id=record_id)
            )

    def record_of_case(self, case_id: str) -> str | None:
        with self.store.reading() as conn:
            row = conn.execute(
                select(tables.cases.c.record_id).where(tables.cases.c.id == case_id)
            ).first()
        return row.record_id if row else None

    def stale_cases(self, older_than: datetime) -> list[str]:
        with self.store.reading() as conn:
            rows = conn.execute(
                select(tables.cases.c.id).where(
                    tables.cases.c.destroyed_at.is_(None), tables.cases.c.created_at < older_than
                )
            ).all()
        return [r.id for r in rows]

    # --- uploads ---------------------------------------------------------------------------------

    def case_dir(self, case_id: str) -> Path:
        return self.data_dir / case_id

    def path(self, upload: Upload) -> Path:
        return self.case_dir(upload.case_id) / f"{upload.id}.enc"

    def create_upload(
        self, device: str, case_id: str, purpose: str, length: int, location: str | None = None
    ) -> Upload:
        self.case_key(case_id, device)  # the case exists, belongs to the device, has its key
        now = utcnow()
        upload_id = str(uuid.uuid4())
        values = {
            "id": upload_id,
            "device": device,
            "case_id": case_id,
            "purpose": purpose,
            "length": length,
            "offset": 0,
            "segments": 0,
            "stored": 0,
            "created_at": now,
            "expires_at": now + timedelta(hours=self.settings.upload_expiry_hours),
            "location": location,
        }
        with self.store.transaction() as conn:
            conn.execute(insert(tables.uploads).values(**values))
        self.audit(f"device:{device}", "upload_created", f"upload:{upload_id}", purpose)
        return Upload(**values, sha256=None, completed_at=None)

    def get(self, upload_id: str) -> Upload | None:
        with self.store.reading() as conn:
            row = conn.execute(
                select(tables.uploads).where(tables.uploads.c.id == upload_id)
            ).first()
        return Upload(**row._mapping) if row else None

    def advance(self, upload: Upload, *, offset: int, segments: int, stored: int) -> None:
        """Record committed bytes; fenced on the old offset so two writers cannot both win."""
        with self.store.transaction() as conn:
            done = conn.execute(
                update(tables.uploads)
                .where(tables.uploads.c.id == upload.id, tables.uploads.c.offset == upload.offset)
                .values(offset=offset, segments=segments, stored=stored)
            ).rowcount
        if not done:
            raise RuntimeError("the upload moved on concurrently")

    def complete(self, upload: Upload, sha256: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                update(tables.uploads)
                .where(tables.uploads.c.id == upload.id)
                .values(sha256=sha256, completed_at=utcnow())
            )
        self.audit(f"device:{upload.device}", "upload_completed", f"upload:{upload.id}")

    def delete_upload(self, upload: Upload, *, actor: str, why: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(tables.uploads.delete().where(tables.uploads.c.id == upload.id))
        self.path(upload).unlink(missing_ok=True)
        self.audit(actor, "upload_deleted", f"upload:{upload.id}", why)

    def expired_uploads(self, now: datetime) -> list[Upload]:
        with self.store.reading() as conn:
            rows = conn.execute(
                select(tables.uploads).where(
                    tables.uploads.c.completed_at.is_(None), tables.uploads.c.expires_at < now
                )
            ).all()
        return [Upload(**r._mapping) for r in rows]

    def uploads_of_case(self, case_id: str) -> list[Upload]:
        with self.store.reading() as conn:
            rows = conn.execute(
                select(tables.uploads).where(tables.uploads.c.case_id == case_id)
            ).all()
        return [Upload(**r._mapping) for r in rows]

    # The SHA-256 of an upload's plaintext, kept while it arrives (in this process only).

    def running_hash(self, upload: Upload) -> Any:
        """A copy of the running hash if it covers exactly the committed bytes; else None."""
        with self._lock:
            if upload.offset == 0:
                return hashlib.sha256()
            found = self._hashes.get(upload.id)
        return found[1].copy() if found and found[0] == upload.offset else None

    def remember_hash(self, upload_id: str, offset: int, digest: Any) -> None:
        with self._lock:
            if digest is None:
                self._hashes.pop(upload_id, None)
            else:
                self._hashes[upload_id] = (offset, digest)

    def forget_hash(self, upload_id: str) -> None:
        with self._lock:
            self._hashes.pop(upload_id, None)

    def reader(self, upload: Upload) -> crypto.DecryptingReader:
        key = self.case_key(upload.case_id, upload.device)
        return crypto.DecryptingReader(self.path(upload), key, upload.id, upload.offset)


__all__ = ["CASE_RULE", "Device", "DeviceError", "KofferStore", "Upload"]
