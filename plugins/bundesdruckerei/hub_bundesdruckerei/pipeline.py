"""Receiving and storing an upload at the same time: the event loop takes the request's chunks,
one worker thread per request hands them to the :class:`SegmentWriter`, which hashes each full
segment and encrypts it (hashlib and AES-GCM release the GIL for a whole segment, so the loop
keeps receiving meanwhile). At most :data:`DEPTH` batches of about a segment wait between the
two, which bounds the memory an upload can take.

One thread does hashing, encryption and writing in turn: with many koffers uploading at once the
work is bound by the CPUs anyway, and handing every batch from a hashing thread to a writing
thread cost more in wake-ups and GIL hand-overs than running the two side by side gained."""

from __future__ import annotations

import queue
import threading

import anyio

from hub_bundesdruckerei.crypto import SegmentWriter

DEPTH = 4
_END = object()


class Pipeline:
    """Feeds batches of body chunks to ``writer`` in a worker thread; :meth:`finish` waits until
    everything fed is hashed and written (the last, partial segment included)."""

    def __init__(self, writer: SegmentWriter):
        self.writer = writer
        self.queue: queue.Queue[object] = queue.Queue(maxsize=DEPTH)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="koffer-store", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if self.error is not None:
                if batch is _END:
                    return
                continue  # drain after a failure
            try:
                if batch is _END:
                    self.writer.flush_segment()  # hash the tail before the caller compares
                    return
                for chunk in batch:  # type: ignore[attr-defined]
                    self.writer.write(chunk)
            except BaseException as exc:  # handed to the request at finish()
                self.error = exc

    async def feed(self, batch: list[bytes]) -> None:
        if not batch:
            return
        try:
            self.queue.put_nowait(batch)
        except queue.Full:  # the disk is behind: wait without blocking the event loop
            await anyio.to_thread.run_sync(self.queue.put, batch)

    async def finish(self) -> None:
        """Wait until everything fed is hashed and written; re-raise what went wrong."""

        def join() -> None:
            self.queue.put(_END)
            self.thread.join()

        await anyio.to_thread.run_sync(join)
        if self.error is not None:
            raise self.error


__all__ = ["Pipeline"]
