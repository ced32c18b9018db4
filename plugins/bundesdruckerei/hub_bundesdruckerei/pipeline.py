"""Receiving and storing an upload at the same time: the event loop takes the request's chunks,
a worker thread hashes, encrypts and writes them (hashlib and AES-GCM release the GIL, so both
run in parallel). At most :data:`DEPTH` batches of about a segment wait between the two, which
bounds the memory an upload can take."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

import anyio

from hub_bundesdruckerei.crypto import SegmentWriter

DEPTH = 4
_END = object()


class Pipeline:
    def __init__(self, writer: SegmentWriter, digests: Sequence[Any]):
        self.writer = writer
        self.digests = [d for d in digests if d is not None]
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="koffer-upload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is _END:
                return
            if self._error is not None:
                continue  # drain after a failure
            try:
                for chunk in batch:
                    for digest in self.digests:
                        digest.update(chunk)
                    self.writer.write(chunk)
            except BaseException as exc:  # handed to the request at finish()
                self._error = exc

    async def feed(self, batch: list[bytes]) -> None:
        if not batch:
            return
        try:
            self._queue.put_nowait(batch)
        except queue.Full:  # the disk is behind: wait without blocking the event loop
            await anyio.to_thread.run_sync(self._queue.put, batch)

    async def finish(self) -> None:
        """Wait until everything fed is written; re-raise what went wrong in the worker."""
        await anyio.to_thread.run_sync(self._queue.put, _END)
        await anyio.to_thread.run_sync(self._thread.join)
        if self._error is not None:
            raise self._error


__all__ = ["Pipeline"]
