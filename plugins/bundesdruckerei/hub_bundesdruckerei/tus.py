"""Resumable uploads from Bürgerkoffer devices: tus 1.0 (core, creation, checksum, termination,
expiration) under ``/v1/koffer/uploads``.

Every request is authenticated as a device; a revoked device is refused at once, and an upload
in progress notices the revocation within a second and stops, keeping nothing of that request.
Bodies are streamed: each chunk is encrypted into the upload's file as it arrives (see
:mod:`hub_bundesdruckerei.crypto`), never held whole in memory, never written as plaintext.
A PATCH with ``Upload-Checksum`` counts only if the checksum of its body matches (460 otherwise,
nothing stored); without one, what arrived before an interruption counts, so the client resumes
from there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from email.utils import format_datetime
from typing import Any

import anyio
import structlog
from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from hub import problem, utcnow
from hub_bundesdruckerei.settings import PURPOSES
from hub_bundesdruckerei.store import CASE_RULE, Device, KofferStore, Upload

log = structlog.get_logger("hub.koffer")
TUS_VERSION = "1.0.0"
CHECKSUMS: dict[str, Callable[[], Any]] = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}
REVOCATION_CHECK_BYTES = 1 << 20
BATCH_BYTES = 1 << 20  # handed to the writer thread at a time
PREFIX = "/v1/koffer/uploads"


def _headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _error(status: int, message: str, **extra: str) -> Response:
    """tus leaves error bodies open: ours are problem+json like every other hub answer."""
    return problem(status, message, kind=f"tus-{status}", headers=_headers(**extra))


# What the tus routes answer besides success (documented in the OpenAPI description).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in (
        (409, "Upload-Offset does not match the stored offset"),
        (410, "The upload expired or was terminated"),
        (412, "Tus-Resumable is not 1.0.0"),
        (415, "Content-Type is not application/offset+octet-stream"),
        (423, "Another request is writing this upload"),
        (460, "Upload-Checksum does not match the data"),
    )
}


def _expires(upload: Upload) -> str:
    return format_datetime(upload.expires_at.astimezone(UTC), usegmt=True)


def parse_metadata(header: str) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs."""
    found: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        if not key or key in found:
            raise ValueError(f"metadata key {key!r} is empty or repeated")
        try:
            found[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError(f"metadata value of {key!r} is not base64 UTF-8") from None
    return found


def router(state: Callable[[], Any]) -> APIRouter:
    """The tus endpoints; ``state()`` gives the plugin's :class:`KofferStore` at request time."""
    api = APIRouter(prefix=PREFIX, tags=["koffer"])
    api.streams_request_bodies = True  # type: ignore[attr-defined]  # limits per purpose, below
    busy: set[str] = set()
    busy_lock = threading.Lock()

    @contextmanager
    def exclusive(upload_id: str) -> Iterator[bool]:
        """One request at a time per upload (in this process); yields False when taken."""
        with busy_lock:
            if upload_id in busy:
                yield False
                return
            busy.add(upload_id)
        try:
            yield True
        finally:
            with busy_lock:
                busy.discard(upload_id)

    def device_of(request: Request) -> Device | Response:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(401, "a device credential is required", **{"WWW-Authenticate": "Bearer"})
        device = state().authenticate(token.strip())
        if device is None:
            return _error(401, "unknown or revoked device", **{"WWW-Authenticate": "Bearer"})
        if request.method != "OPTIONS" and request.headers.get("tus-resumable") != TUS_VERSION:
            return _error(412, "Tus-Resumable 1.0.0 is required", **{"Tus-Version": TUS_VERSION})
        return device

    def owned(device: Device, upload_id: str) -> Upload | Response:
        upload = state().get(upload_id)
        if upload is None or upload.device != device.name:
            return _error(404, "no such upload")
        if not upload.complete and upload.expires_at < utcnow():
            return _error(410, "the upload expired")
        return upload

    @api.options("", status_code=204, responses=ERRORS)
    @api.options("/{upload_id}", status_code=204, responses=ERRORS)
    def options() -> Response:
        limits = state().settings.max_bytes
        return Response(
            status_code=204,
            headers={
                "Tus-Resumable": TUS_VERSION,
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": "creation,checksum,termination,expiration",
                "Tus-Max-Size": str(max(limits.values())),
                "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
            },
        )

    @api.post("", status_code=201, responses=ERRORS)
    def create(request: Request) -> Response:
        device = device_of(request)
        if isinstance(device, Response):
            return device
        store: KofferStore = state()
        if request.headers.get("upload-defer-length"):
            return _error(400, "Upload-Defer-Length is not supported: send Upload-Length")
        if int(request.headers.get("content-length") or 0):
            return _error(400, "creation-with-upload is not supported: send the data by PATCH")
        try:
            length = int(request.headers["upload-length"])
            if length < 1:
                raise ValueError
        except (KeyError, ValueError):
            return _error(400, "Upload-Length: a positive integer is required")
        try:
            meta = parse_metadata(request.headers.get("upload-metadata", ""))
        except ValueError as exc:
            return _error(400, f"Upload-Metadata: {exc}")
        purpose, case = meta.get("purpose"), meta.get("case")
        if purpose not in PURPOSES:
            return _error(400, f"Upload-Metadata purpose: one of {', '.join(PURPOSES)}")
        if not case or not CASE_RULE.fullmatch(case):
            return _error(400, "Upload-Metadata case: 8 to 64 of A-Z a-z 0-9 . _ -")
        location = meta.get("location") or None
        if location is not None and len(location) > 200:
            return _error(400, "Upload-Metadata location: at most 200 characters")
        limit = store.settings.max_bytes.get(purpose, 0)
        if length > limit:
            return _error(413, f"Upload-Length: at most {limit} bytes for a {purpose}")
        try:
            upload = store.create_upload(device.name, case, purpose, length, location)
        except PermissionError:
            return _error(403, "the case belongs to another device")
        except LookupError:
            return _error(409, "the case is closed: its data was destroyed")
        return Response(
            status_code=201,
            headers=_headers(
                Location=f"{PREFIX}/{upload.id}", **{"Upload-Expires": _expires(upload)}
            ),
        )

    @api.head("/{upload_id}", responses=ERRORS)
    def head(upload_id: str, request: Request) -> Response:
        device = device_of(request)
        if isinstance(device, Response):
            return device
        upload = owned(device, upload_id)
        if isinstance(upload, Response):
            return upload
        headers = _headers(
            **{"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length)}
        )
        if not upload.complete:
            headers["Upload-Expires"] = _expires(upload)
        return Response(status_code=200, headers=headers)

    @api.delete("/{upload_id}", status_code=204, responses=ERRORS)
    def terminate(upload_id: str, request: Request) -> Response:
        device = device_of(request)
        if isinstance(device, Response):
            return device
        upload = owned(device, upload_id)
        if isinstance(upload, Response):
            return upload
        with exclusive(upload_id) as mine:
            if not mine:
                return _error(423, "the upload is being written")
            state().delete_upload(upload, actor=f"device:{device.name}", why="terminated")
        return Response(status_code=204, headers=_headers())

    @api.patch("/{upload_id}", status_code=204, responses=ERRORS)
    async def patch(upload_id: str, request: Request) -> Response:
        def identify() -> tuple[Device | Response, Upload | Response | None]:
            device = device_of(request)
            if isinstance(device, Response):
                return device, None
            return device, owned(device, upload_id)

        device, upload = await anyio.to_thread.run_sync(identify)
        if isinstance(device, Response):
            return device
        if isinstance(upload, Response) or upload is None:
            return upload or _error(404, "no such upload")
        if request.headers.get("content-type") != "application/offset+octet-stream":
            return _error(415, "Content-Type: application/offset+octet-stream is required")
        try:
            offset = int(request.headers["upload-offset"])
        except (KeyError, ValueError):
            return _error(400, "Upload-Offset: an integer is required")
        if offset != upload.offset:
            return _error(
                409,
                f"Upload-Offset: the upload is at {upload.offset}",
                **{"Upload-Offset": str(upload.offset)},
            )
        digest = expected = None
        if "upload-checksum" in request.headers:
            algorithm, _, encoded = request.headers["upload-checksum"].partition(" ")
            if algorithm not in CHECKSUMS:
                return _error(400, f"Upload-Checksum: supported are {', '.join(CHECKSUMS)}")
            try:
                expected = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                return _error(400, "Upload-Checksum: the checksum is not base64")
            digest = CHECKSUMS[algorithm]()
        with exclusive(upload_id) as mine:
            if not mine:
                return _error(423, "another request is writing this upload")
            return await _receive(request, device, upload, digest, expected)

    async def _receive(
        request: Request, device: Device, upload: Upload, digest: Any, expected: bytes | None
    ) -> Response:
        from hub_bundesdruckerei.crypto import SegmentWriter
        from hub_bundesdruckerei.pipeline import Pipeline

        store: KofferStore = state()
        key = await anyio.to_thread.run_sync(store.case_key, upload.case_id, device.name)
        whole = store.running_hash(upload)  # SHA-256 of the upload so far, if this process has it
        if upload.offset == 0 and expected is not None and digest.name == "sha256":
            whole = digest  # both start empty and cover the same bytes: hash them once
        writer = SegmentWriter(
            store.path(upload),
            key,
            upload.id,
            segments=upload.segments,
            size=upload.stored,
            digests=[digest] if whole is digest else [digest, whole],
        )
        pipeline = Pipeline(writer)
        received = since_check = batched = 0
        batch: list[bytes] = []
        room = upload.length - upload.offset
        interrupted = False
        refusal: Response | None = None
        try:
            try:
                async for chunk in request.stream():
                    if not chunk:
                        continue
                    received += len(chunk)
                    if received > room:
                        refusal = _error(413, f"the upload has only {room} bytes left")
                        break
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= BATCH_BYTES:
                        await pipeline.feed(batch)
                        batch, batched = [], 0
                    since_check += len(chunk)
                    if since_check >= REVOCATION_CHECK_BYTES:
                        since_check = 0
                        revoked = store.revoked_cached(device.name)  # no thread hop while fresh
                        if revoked is None:
                            revoked = await anyio.to_thread.run_sync(store.is_revoked, device.name)
                        if revoked:
                            store.audit(
                                f"device:{device.name}",
                                "upload_refused",
                                f"upload:{upload.id}",
                                "device revoked during upload",
                            )
                            refusal = _error(403, "the device was revoked")
                            break
            except ClientDisconnect:
                interrupted = True
            await pipeline.feed(batch)
            await pipeline.finish()
            if refusal is not None:
                writer.rollback()
                return refusal
            if digest is not None and (interrupted or digest.digest() != expected):
                writer.rollback()  # a checksummed request counts whole or not at all
                if interrupted:
                    return _error(400, "the request was interrupted")
                return _error(460, "Checksum Mismatch")
            new_offset = upload.offset + received

            def commit() -> None:
                segments, stored = writer.commit()
                store.advance(upload, offset=new_offset, segments=segments, stored=stored)

            await anyio.to_thread.run_sync(commit)
            store.remember_hash(upload.id, new_offset, whole)
        finally:
            writer.close()
        headers = _headers(**{"Upload-Offset": str(new_offset)})
        if new_offset == upload.length:
            await anyio.to_thread.run_sync(_finish, store, upload.id)
        else:
            headers["Upload-Expires"] = _expires(upload)
        return Response(status_code=204, headers=headers)

    return api


def _finish(store: KofferStore, upload_id: str) -> None:
    """The whole upload arrived: its SHA-256 from the running hash, or, when the upload was
    resumed in another process, by decrypting the stored file (which also proves it intact)."""
    upload = store.get(upload_id)
    assert upload is not None
    digest = store.running_hash(upload)
    if digest is None:
        digest = hashlib.sha256()
        with store.reader(upload) as reader:
            for chunk in reader.chunks():
                digest.update(chunk)
    store.forget_hash(upload.id)
    store.complete(upload, digest.hexdigest())


__all__ = ["PREFIX", "TUS_VERSION", "parse_metadata", "router"]
