"""Documents that belong to a record: brought with it at intake, or added later (the office's PDF).

Bytes are kept once per content in a directory, named by their SHA-256 (``ab/abcdef…``), written
through a temporary file that is fsynced and renamed, so a crash never leaves a half file under a
real name. The metadata row is written only after the bytes are durable. Files that come with a
submission are staged first and their rows committed in the record's own transaction, so no
adapter can lease a record whose documents are not stored yet. Adding the same attachment id
twice returns the first one (answers fetched again after a crash are harmless).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from hub.core.record import Attachment
from hub.core.store import Store, utcnow
from hub.core.store.schema import record_attachments, records

CHUNK = 1 << 20


class UnknownAttachment(KeyError):
    """No such attachment on that record."""


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
        }


class AttachmentStore:
    """Content-addressed attachment files plus their rows in the hub's store."""

    def __init__(self, directory: str | os.PathLike[str], store: Store):
        self.directory = Path(directory)
        self.store = store

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
        with self.store.read_engine.connect() as conn:
            row = conn.execute(
                select(record_attachments).where(
                    record_attachments.c.record_id == record_id,
                    record_attachments.c.attachment_id == attachment_id,
                )
            ).first()
        if row is None:
            if missing_ok:
                return None
            raise UnknownAttachment(attachment_id)
        return _attachment(row)

    def list(self, record_id: str) -> list[Attachment]:
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(
                select(record_attachments)
                .where(record_attachments.c.record_id == record_id)
                .order_by(record_attachments.c.added_at, record_attachments.c.attachment_id)
            ).all()
        return [_attachment(r) for r in rows]

    def open(self, record_id: str, attachment_id: str) -> tuple[Attachment, BinaryIO]:
        """The attachment and its bytes as an open binary file (the caller closes it)."""
        meta = self.get(record_id, attachment_id)
        assert meta is not None
        return meta, self._path(meta.sha256).open("rb")

    def read(self, record_id: str, attachment_id: str) -> bytes:
        _, stream = self.open(record_id, attachment_id)
        with stream:
            return stream.read()

    def delete(self, record_id: str, attachment_id: str) -> None:
        """Forget the attachment; its bytes go when no other attachment has the same content."""
        meta = self.get(record_id, attachment_id)
        assert meta is not None
        with self.store.engine.begin() as conn:
            conn.execute(
                delete(record_attachments).where(
                    record_attachments.c.record_id == record_id,
                    record_attachments.c.attachment_id == attachment_id,
                )
            )
            shared = conn.execute(
                select(record_attachments.c.record_id).where(
                    record_attachments.c.sha256 == meta.sha256
                )
            ).first()
        if shared is None:
            self._path(meta.sha256).unlink(missing_ok=True)


def _attachment(row: object) -> Attachment:
    return Attachment(
        id=row.attachment_id,  # type: ignore[attr-defined]
        purpose=row.purpose,  # type: ignore[attr-defined]
        media_type=row.media_type,  # type: ignore[attr-defined]
        size=row.size,  # type: ignore[attr-defined]
        sha256=row.sha256,  # type: ignore[attr-defined]
        filename=row.filename,  # type: ignore[attr-defined]
    )


__all__ = ["AttachmentStore", "StagedFile", "UnknownAttachment"]
