"""Reference receiver of interface version 1, for vendors of passport software to test against
(``hub bundesdruckerei receiver``; ``make run`` starts one inside the hub).

It does what the passport software's side must do: verify the manifest's signature against the
hub's JWKS, take each attachment as a stream, check its size and SHA-256 against the manifest,
store the package durably, answer 202 with a receipt, and only then call back ``received``
(later, if told to, ``in_production`` and ``ready_for_pickup``). A package it has already is
answered 200 with the same receipt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub_bundesdruckerei import package

log = structlog.get_logger("hub.koffer.receiver")


@dataclass
class Receiver:
    directory: Path
    jwks_url: str
    hub_url: str
    callback_token: str
    progress_delay: float | None = None  # then in_production, then ready_for_pickup
    reject: set[str] = field(default_factory=set)  # record ids (or "*") to answer "rejected"
    callbacks: list[tuple[str, str, int]] = field(default_factory=list)  # (record, status, HTTP)
    _keys: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/applications", self.receive, methods=["POST"]),
                Route("/v1/applications", self.options, methods=["OPTIONS"]),
            ]
        )

    async def options(self, request: Request) -> Response:
        return Response(status_code=204, headers={"Allow": "POST, OPTIONS"})

    def keys(self, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            if self._keys is None or refresh:
                self._keys = httpx.get(self.jwks_url, timeout=10).raise_for_status().json()
            return self._keys

    async def receive(self, request: Request) -> Response:
        import anyio

        form = await request.form(max_files=32, max_fields=4, max_part_size=4 * 1024 * 1024)
        try:
            token = form.get("manifest")
            if not isinstance(token, str):
                return _refuse(400, "the first part must be the manifest")
            try:
                manifest = package.verify(token, await anyio.to_thread.run_sync(self.keys))
            except package.ManifestRejected:  # maybe a new key: fetch the JWKS once more
                manifest = package.verify(
                    token, await anyio.to_thread.run_sync(lambda: self.keys(refresh=True))
                )
            files = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
            return await anyio.to_thread.run_sync(self._store, manifest, files)
        except package.ManifestRejected as exc:
            return _refuse(401, f"manifest refused: {exc}")
        except httpx.HTTPError as exc:  # the hub's JWKS is out of reach: try again later
            return _refuse(503, f"cannot fetch the hub's keys: {type(exc).__name__}")
        finally:
            await form.close()

    def _store(self, manifest: dict[str, Any], files: dict[str, UploadFile]) -> Response:
        record_id = manifest["record"]["id"]
        receipt = f"R-{hashlib.sha256(record_id.encode()).hexdigest()[:12]}"
        final = self.directory / record_id
        if final.exists():
            return JSONResponse({"receipt": receipt}, status_code=200)
        expected = {a["id"]: a for a in manifest["attachments"]}
        if set(files) != set(expected):
            return _refuse(422, "the attachments do not match the manifest")
        partial = self.directory / f".{record_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name, upload in files.items():
            digest, size = hashlib.sha256(), 0
            with (partial / name).open("wb") as out:
                upload.file.seek(0)
                while chunk := upload.file.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size != expected[name]["size"] or digest.hexdigest() != expected[name]["sha256"]:
                shutil.rmtree(partial, ignore_errors=True)
                return _refuse(422, f"attachment {name}: size or SHA-256 differ from the manifest")
        (partial / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        partial.rename(final)
        threading.Thread(target=self._report, args=(record_id, receipt), daemon=True).start()
        return JSONResponse({"receipt": receipt}, status_code=202)

    def _report(self, record_id: str, receipt: str) -> None:
        if record_id in self.reject or "*" in self.reject:
            self._callback(record_id, "rejected", receipt, reason="Lichtbild nicht verwendbar")
            return
        self._callback(record_id, "received", receipt)
        if self.progress_delay is not None:
            for status in ("in_production", "ready_for_pickup"):
                time.sleep(self.progress_delay)
                self._callback(record_id, status, receipt)

    def _callback(
        self, record_id: str, status: str, receipt: str, reason: str | None = None
    ) -> None:
        body = {"status": status, "receipt": receipt, **({"reason": reason} if reason else {})}
        for attempt in range(8):
            try:
                r = httpx.post(
                    f"{self.hub_url.rstrip('/')}/v1/koffer/status/{record_id}",
                    json=body,
                    headers={"Authorization": f"Bearer {self.callback_token}"},
                    timeout=10,
                )
                with self._lock:
                    self.callbacks.append((record_id, status, r.status_code))
                if r.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(min(0.2 * 2**attempt, 5))
        log.warning("receiver_callback_gave_up", status=status)


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"title": message}, status_code=status)


__all__ = ["Receiver"]
