"""Documents that belong to a record: brought with it at intake, or added later (the office's PDF).

Bytes are kept once per content in a directory, named by their SHA-256 (``ab/abcdef…``), written
through a temporary file that is fsynced and renamed, so a crash never leaves a half file under a
real name. The metadata row is written only after the bytes are durable. Files that come with a
submission are staged first and their rows committed in the record's own transaction, so no
adapter can lease a record whose documents are not stored yet. Adding the same attachment id
twice returns the first one (answers fetched again after a crash are harmless).

Bytes a plugin must keep its own way — biometric data encrypted at rest and shredded after
delivery — stay in that plugin's *backend* (``register_attachment_backends``); the record's
rows name the backend and its reference, so every attachment is listed, opened and deleted
through this one store. A backend may withhold its bytes from API clients (they then reach
only the adapters that deliver them).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from hub.core.errors import ConfigurationError
from hub.core.record import Attachment
from hub.core.store import Store, utcnow
from hub.core.store.schema import record_attachments, records

CHUNK = 1 << 20


FILES = "files"  # the built-in backend: content-addressed files under attachments.directory


class UnknownAttachment(KeyError):
    """No such attachment on that record."""


class AttachmentWithheld(PermissionError):
    """The attachment's backend releases its bytes to delivering adapters only."""


@runtime_checkable
class AttachmentBackend(Protocol):
    """Where a plugin keeps attachment bytes; ``ref`` is its own locator."""

    #: False: API clients see the attachment listed but cannot download it.
    client_readable: bool

    def open(self, ref: str) -> BinaryIO:
        """The bytes as a readable binary stream; ``LookupError`` when they are gone."""
        ...

    def delete(self, ref: str) -> None:
        """Destroy the bytes (idempotent)."""
        ...


def _chunks(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
    else:
        yield from data


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class StagedFile:
    """Bytes already durable under their hash, waiting for the record that owns them."""

    attachment: Attachment
    source: str | None = None
    backend: str = FILES
    ref: str | None = None

    def row(self, record_id: str, added_at: object) -> dict[str, object]:
        a = self.attachment
        return {
            "record_id": record_id,
            "attachment_id": a.id,
            "purpose": a.purpose,
            "media_type": a.media_type,
            "size": a.size,
            "sha256": a.sha256,
            "filename": a.filename,
            "source": self.source,
            "added_at": added_at,
            "backend": self.backend,
            "ref": self.ref,
        }


class AttachmentStore:
    """Content-addressed attachment files plus their rows in the hub's store."""

    def __init__(self, directory: str | os.PathLike[str], store: Store):
        self.directory = Path(directory)
        self.store = store
        self.backends: dict[str, AttachmentBackend] = {}

    def register_backend(self, name: str, backend: AttachmentBackend) -> None:
        if name == FILES or name in self.backends:
            raise ConfigurationError(f"attachment backend {name!r} is already registered")
        if not (
            isinstance(backend, AttachmentBackend) and isinstance(backend.client_readable, bool)
        ):
            raise ConfigurationError(
                f"attachment backend {name!r} needs open(ref), delete(ref) and client_readable"
            )
        self.backends[name] = backend

    def stage_held(
        self, attachment: Attachment, *, backend: str, ref: str, source: str | None = None
    ) -> StagedFile:
        """An attachment whose bytes a plugin's backend already holds durably (an encrypted
        upload); pass it to intake like a staged file, and the row is committed with the
        record."""
        if backend not in self.backends:
            raise ConfigurationError(f"no attachment backend {backend!r} is registered")
        return StagedFile(attachment, source, backend, ref)

    def _path(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / sha256

    def stage(
        self,
        attachment_id: str,
        *,
        purpose: str,
        media_type: str,
        data: bytes | Iterable[bytes],
        filename: str | None = None,
        source: str | None = None,
    ) -> StagedFile:
        """Write ``data`` durably before the record exists; pass the result to intake
        (``hub.intake.submit(..., files=[...])``), which commits the row with the record."""
        Attachment(  # id, purpose, media type checked before touching the disk
            id=attachment_id,
            purpose=purpose,
            media_type=media_type,
            size=0,
            sha256="0" * 64,
            filename=filename,
        )
        sha, size = self._write(data)
        meta = Attachment(
            id=attachment_id,
            purpose=purpose,
            media_type=media_type,
            size=size,
            sha256=sha,
            filename=filename,
        )
        return StagedFile(meta, source)

    def _write(self, data: bytes | Iterable[bytes]) -> tuple[str, int]:
        self.directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(data):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            target = self._path(sha)
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp, target)  # same content, same name: replacing is harmless
            _fsync_dir(target.parent)
            return sha, size
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add(
        self,
        record_id: str,
        attachment_id: str,
        *,
        purpose: str,
        media_type: str,
        data: bytes | Iterable[bytes],
        source: str | None = None,
        filename: str | None = None,
    ) -> Attachment:
        """Store ``data`` (bytes or an iterable of chunks, streamed) as an attachment of an
        existing record. Idempotent by ``attachment_id``: a second add returns the first."""
        existing = self.get(record_id, attachment_id, missing_ok=True)
        if existing is not None:
            return existing
        staged = self.stage(
            attachment_id,
            purpose=purpose,
            media_type=media_type,
            data=data,
            filename=filename,
            source=source,
        )
        try:
            with self.store.engine.begin() as conn:
                if (
                    conn.execute(select(records.c.id).where(records.c.id == record_id)).first()
                    is None
                ):
                    raise KeyError(record_id)
                conn.execute(insert(record_attachments).values(staged.row(record_id, utcnow())))
        except IntegrityError:  # a concurrent add of the same id won
            found = self.get(record_id, attachment_id, missing_ok=True)
            if found is None:
                raise
            return found
        return staged.attachment

    def get(
        self, record_id: str, attachment_id: str, *, missing_ok: bool = False
    ) -> Attachment | None:
        row = self._row(record_id, attachment_id, missing_ok=missing_ok)
        return None if row is None else _attachment(row)

    def list(self, record_id: str) -> list[Attachment]:
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(
                select(record_attachments)
                .where(record_attachments.c.record_id == record_id)
                .order_by(record_attachments.c.added_at, record_attachments.c.attachment_id)
            ).all()
        return [_attachment(r) for r in rows]

    def _row(self, record_id: str, attachment_id: str, *, missing_ok: bool = False) -> Any:
        with self.store.reading() as conn:
            row = conn.execute(
                select(record_attachments).where(
                    record_attachments.c.record_id == record_id,
                    record_attachments.c.attachment_id == attachment_id,
                )
            ).first()
        if row is None and not missing_ok:
            raise UnknownAttachment(attachment_id)
        return row

    def _backend(self, name: str) -> AttachmentBackend:
        found = self.backends.get(name)
        if found is None:
            raise LookupError(f"attachment backend {name!r} is not installed")
        return found

    def open(
        self, record_id: str, attachment_id: str, *, for_client: bool = False
    ) -> tuple[Attachment, BinaryIO]:
        """The attachment and its bytes as an open binary stream (the caller closes it).
        ``for_client``: an API client asks, and a backend that withholds bytes from clients
        raises :class:`AttachmentWithheld`. ``LookupError`` when the bytes are gone."""
        row = self._row(record_id, attachment_id)
        meta = _attachment(row)
        if row.backend == FILES:
            return meta, self._path(meta.sha256).open("rb")
        backend = self._backend(row.backend)
        if for_client and not backend.client_readable:
            raise AttachmentWithheld(attachment_id)
        return meta, backend.open(row.ref)

    def read(self, record_id: str, attachment_id: str) -> bytes:
        _, stream = self.open(record_id, attachment_id)
        with stream:
            return stream.read()

    def delete(self, record_id: str, attachment_id: str) -> None:
        """Forget the attachment and destroy its bytes: a backend's through the backend (after
        the row is gone), a file when no other attachment has the same content."""
        row = self._row(record_id, attachment_id)
        meta = _attachment(row)
        if row.backend != FILES:
            backend = self._backend(row.backend)
            with self.store.engine.begin() as conn:
                conn.execute(
                    delete(record_attachments).where(
                        record_attachments.c.record_id == record_id,
                        record_attachments.c.attachment_id == attachment_id,
                    )
                )
            backend.delete(row.ref)
            return
        with self.store.engine.begin() as conn:
            conn.execute(
                delete(record_attachments).where(
                    record_attachments.c.record_id == record_id,
                    record_attachments.c.attachment_id == attachment_id,
                )
            )
            shared = conn.execute(
                select(record_attachments.c.record_id).where(
                    record_attachments.c.sha256 == meta.sha256,
                    record_attachments.c.backend == FILES,
                )
            ).first()
        if shared is None:
            self._path(meta.sha256).unlink(missing_ok=True)


def _attachment(row: Any) -> Attachment:
    return Attachment(
        id=row.attachment_id,
        purpose=row.purpose,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        filename=row.filename,
    )


__all__ = [
    "AttachmentBackend",
    "AttachmentStore",
    "AttachmentWithheld",
    "StagedFile",
    "UnknownAttachment",
]
