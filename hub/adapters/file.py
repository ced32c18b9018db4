"""``file`` adapter: each delivered record becomes ``<id>.json`` in a directory.

A real hand-off for file-share integrations: the file appears atomically (written to a temporary
dot-name, fsynced, renamed), so a reader never sees half a record. The directory is fsynced once
per batch in ``flush()`` before the batch counts as delivered, so a delivered record survives a
power cut. Re-delivery overwrites the same name with the same content. Readers should ignore
dot-files: a crash mid-write can leave a ``.<id>.*.tmp`` behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from hub.adapters._settings import parse_settings
from hub.core.context import CheckContext, DeliveryContext
from hub.core.errors import ConfigurationError, TransientError
from hub.core.hookspecs import hookimpl
from hub.core.record import Record


class FileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directory: Path
    fsync: bool = True


class FileAdapter:
    def __init__(self, settings: FileSettings):
        self.directory = settings.directory
        self.fsync = settings.fsync
        # A failure here is reported by deliver (retried) and by `hub doctor`.
        with contextlib.suppress(OSError):
            self.directory.mkdir(parents=True, exist_ok=True)

    def deliver(self, record: Record, ctx: DeliveryContext) -> dict[str, Any]:
        body = record.model_dump_json(exclude={"deliveries", "history"}).encode()
        name = f"{record.id}.json"
        # One temporary name per record and thread: never shared, so no O_EXCL retry dance.
        tmp = os.path.join(self.directory, f".{name}.{threading.get_ident()}.tmp")
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            except FileNotFoundError:  # the directory vanished (share remounted): recreate
                self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                os.write(fd, body)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, os.path.join(self.directory, name))
        except OSError as exc:  # full disk, share unmounted: may well work later
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise TransientError(f"cannot write to {self.directory}: {exc.strerror}") from exc
        return {"file": name, "sha256": hashlib.sha256(body).hexdigest()}

    def flush(self) -> None:
        """Make the renames of this batch durable: one directory fsync for many files."""
        if not self.fsync:
            return
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def check(self, ctx: CheckContext) -> str:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".doctor."):
                pass
        except OSError as exc:
            raise ConfigurationError(f"directory {self.directory} is not writable: {exc}") from exc
        return f"directory {self.directory} is writable"


def make_file_adapter(settings: dict[str, Any], hub: object) -> FileAdapter:
    return FileAdapter(parse_settings(FileSettings, settings))


@hookimpl
def register_adapters(register: Any) -> None:
    register("file", make_file_adapter, description="Atomic <id>.json files in a directory")


@hookimpl
def register_settings(register: Any) -> None:
    """``[adapters.x]`` of type ``file``."""
    register(FileSettings, adapter_type="file")
