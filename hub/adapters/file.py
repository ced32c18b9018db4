"""``file`` adapter: each delivered record becomes ``<id>.json`` in a directory.

A real hand-off for file-share integrations: the file appears atomically (written to a temporary
name, fsynced, renamed, directory fsynced), so a reader never sees half a record and a delivered
record survives a power cut. Re-delivery overwrites the same name with the same content.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
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

    def deliver(self, record: Record, ctx: DeliveryContext) -> dict[str, Any]:
        body = record.model_dump_json(exclude={"deliveries", "history"}).encode()
        target = self.directory / f"{record.id}.json"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{record.id}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(body)
                    if self.fsync:
                        fh.flush()
                        os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            if self.fsync:
                dir_fd = os.open(self.directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:  # full disk, share unmounted: may well work later
            raise TransientError(f"cannot write to {self.directory}: {exc.strerror}") from exc
        return {"file": target.name, "sha256": hashlib.sha256(body).hexdigest()}

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
