"""Encryption at rest: envelope keys and segmented AES-256-GCM files.

Every application (a koffer's *case*) gets a fresh 256-bit data key, stored only wrapped by the
master key (AES key wrap, RFC 3394). Upload bytes are encrypted as they arrive, in segments of at
most :data:`SEGMENT` plaintext bytes; each segment is stored as

    4-byte big-endian plaintext length | 12-byte nonce | ciphertext with its 16-byte GCM tag

with the upload id and the segment number as associated data, so segments cannot be swapped
between uploads or reordered. Plaintext never reaches the disk; reading decrypts one segment at
a time (:class:`DecryptingReader` is seekable, for image decoders).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

SEGMENT = 1 << 20  # plaintext bytes per segment
SYNC_EVERY = 4  # segments between early write-backs
HEADER = struct.Struct(">I")
NONCE = 12
TAG = 16
OVERHEAD = HEADER.size + NONCE + TAG


class CorruptData(Exception):
    """Stored data failed authentication (tampered, truncated or the wrong key)."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(master: bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(master, data_key)


def unwrap(master: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(master, wrapped)
    except InvalidUnwrap:
        raise CorruptData("the data key does not unwrap with this master key") from None


def _aad(upload_id: str, index: int) -> bytes:
    return f"{upload_id}:{index}".encode()


class SegmentWriter:
    """Appends encrypted segments to an upload's file; ``commit`` makes them durable.

    Bytes fed with :meth:`write` are buffered up to one segment; :meth:`flush_segment` updates
    ``digests`` (hash objects: the request's checksum, the upload's running hash) with what is
    buffered and encrypts it. The caller decides when appended segments count (checksum
    verified, body complete) and otherwise calls :meth:`rollback`, which cuts the file back.
    """

    def __init__(
        self,
        path: Path,
        key: bytes,
        upload_id: str,
        *,
        segments: int,
        size: int,
        digests: Sequence[Any] = (),
    ):
        self.path = path
        self.digests = [d for d in digests if d is not None]
        self.aead = AESGCM(key)
        self.upload_id = upload_id
        self.segments = segments  # segments committed so far
        self.size = size  # ciphertext bytes committed so far
        self.pending_segments = 0
        self.pending_plain = 0
        # One plaintext and one ciphertext buffer, reused: no per-chunk allocations.
        self._plain = bytearray(SEGMENT)
        self._sealed = bytearray(SEGMENT + TAG)
        self._filled = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "r+b")
        self._file.truncate(size)  # drop what an interrupted earlier attempt left behind
        self._file.seek(size)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            n = min(SEGMENT - self._filled, len(view))
            self._plain[self._filled : self._filled + n] = view[:n]
            self._filled += n
            view = view[n:]
            if self._filled == SEGMENT:
                self.flush_segment()

    def flush_segment(self) -> None:
        if not self._filled:
            return
        index = self.segments + self.pending_segments
        nonce = os.urandom(NONCE)
        plain = memoryview(self._plain)[: self._filled]
        sealed = memoryview(self._sealed)[: self._filled + TAG]
        for digest in self.digests:
            digest.update(plain)
        self.aead.encrypt_into(nonce, plain, _aad(self.upload_id, index), sealed)
        self._file.write(HEADER.pack(self._filled) + nonce)
        self._file.write(sealed)
        self.pending_segments += 1
        self.pending_plain += self._filled
        self._filled = 0
        if self.pending_segments % SYNC_EVERY == 0:
            # Write back while the rest of the request is still arriving, so the fsync that
            # makes the request durable finds little left to do.
            self._file.flush()
            os.fdatasync(self._file.fileno())

    def commit(self) -> tuple[int, int]:
        """Encrypt the rest, fsync, and count the pending segments; returns (segments, size)."""
        self.flush_segment()
        self._file.flush()
        os.fsync(self._file.fileno())
        self.segments += self.pending_segments
        self.size = self._file.tell()
        self.pending_segments = 0
        self.pending_plain = 0
        return self.segments, self.size

    def rollback(self) -> None:
        self._filled = 0
        self._file.truncate(self.size)
        self._file.seek(self.size)
        self.pending_segments = 0
        self.pending_plain = 0

    def close(self) -> None:
        self._file.close()


class DecryptingReader(io.RawIOBase):
    """The plaintext of an encrypted upload as a read-only, seekable file.

    Holds one decrypted segment at a time; ``length`` is the upload's plaintext size.
    """

    def __init__(self, path: Path, key: bytes, upload_id: str, length: int):
        self.aead = AESGCM(key)
        self.upload_id = upload_id
        self.length = length
        self._file: BinaryIO = path.open("rb")
        self._index: list[tuple[int, int, int]] = []  # (plain start, file offset, plain length)
        position = plain = 0
        while plain < length:
            self._file.seek(position)
            head = self._file.read(HEADER.size)
            if len(head) < HEADER.size:
                raise CorruptData("the stored upload is shorter than its length")
            (size,) = HEADER.unpack(head)
            if size == 0 or size > SEGMENT:
                raise CorruptData("a segment header is out of range")
            self._index.append((plain, position, size))
            plain += size
            position += OVERHEAD + size
        if plain != length:
            raise CorruptData("the stored upload does not add up to its length")
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _segment(self, number: int) -> bytes:
        if self._cached and self._cached[0] == number:
            return self._cached[1]
        _, position, size = self._index[number]
        self._file.seek(position + HEADER.size)
        nonce = self._file.read(NONCE)
        sealed = self._file.read(size + TAG)
        try:
            plain = self.aead.decrypt(nonce, sealed, _aad(self.upload_id, number))
        except InvalidTag:
            raise CorruptData(f"segment {number} failed authentication") from None
        self._cached = (number, plain)
        return plain

    def _locate(self, pos: int) -> int:
        lo, hi = 0, len(self._index) - 1
        while lo < hi:  # last segment starting at or before pos
            mid = (lo + hi + 1) // 2
            if self._index[mid][0] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= self.length:
            return 0
        number = self._locate(self._pos)
        start = self._index[number][0]
        data = self._segment(number)[self._pos - start :]
        n = min(len(buffer), len(data))
        buffer[:n] = data[:n]
        self._pos += n
        return n

    def chunks(self) -> Iterator[bytes]:
        """Every segment's plaintext from the start, in order (for streaming out)."""
        for number in range(len(self._index)):
            yield self._segment(number)

    def close(self) -> None:
        self._file.close()
        self._cached = None
        super().close()


__all__ = [
    "SEGMENT",
    "CorruptData",
    "DecryptingReader",
    "SegmentWriter",
    "new_data_key",
    "unwrap",
    "wrap",
]
