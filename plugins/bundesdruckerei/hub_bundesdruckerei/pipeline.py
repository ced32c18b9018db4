"""Receiving and storing an upload at the same time: the event loop takes the request's chunks,
worker threads hash, encrypt and write them (hashlib and AES-GCM release the GIL, so they run
in parallel). At most :data:`DEPTH` batches of about a segment wait between the two, which
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


class _Stage:
    """One worker thread applying ``work`` to every chunk of every batch, in order."""

    def __init__(self, name: str, work: Any):
        self.work = work
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=DEPTH)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is _END:
                return
            if self.error is not None:
                continue  # drain after a failure
            try:
                for chunk in batch:
                    self.work(chunk)
            except BaseException as exc:  # handed to the request at finish()
                self.error = exc


class Pipeline:
    """Hashing in one thread, encrypting and writing in another, both beside the event loop
    (hashlib and AES-GCM release the GIL); each batch is shared, not copied."""

    def __init__(self, writer: SegmentWriter, digests: Sequence[Any]):
        active = [d for d in digests if d is not None]

        def hash_chunk(chunk: bytes) -> None:
            for digest in active:
                digest.update(chunk)

        self.stages = [_Stage("koffer-write", writer.write)]
        if active:
            self.stages.append(_Stage("koffer-hash", hash_chunk))

    async def feed(self, batch: list[bytes]) -> None:
        if not batch:
            return
        for stage in self.stages:
            try:
                stage.queue.put_nowait(batch)
            except queue.Full:  # the disk is behind: wait without blocking the event loop
                await anyio.to_thread.run_sync(stage.queue.put, batch)

    async def finish(self) -> None:
        """Wait until everything fed is hashed and written; re-raise what went wrong."""

        def join() -> None:
            for stage in self.stages:
                stage.queue.put(_END)
            for stage in self.stages:
                stage.thread.join()

        await anyio.to_thread.run_sync(join)
        for stage in self.stages:
            if stage.error is not None:
                raise stage.error


__all__ = ["Pipeline"]
