"""Fixtures: a live hub with the koffer plugin, a registered device, the reference receiver on
loopback, and capture-like test images generated here (photo, fingerprints, signature)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image, ImageDraw

from hub.testing import LiveHub, free_port, hub_config, wait_until
from hub_bundesdruckerei.plugin import state as koffer_state
from hub_bundesdruckerei.sim.receiver import Receiver

TOKEN = "koffer-test-token-0123"
CALLBACK = "callback-token-for-tests-0123456789"
ARS = "051110000000"
PASSPORT = "99085001012000"


def jpeg(width: int = 827, height: int = 1063, fmt: str = "JPEG") -> bytes:
    """A portrait "photo": a face-like oval on a light background."""
    image = Image.new("RGB", (width, height), (232, 236, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.25, height * 0.2, width * 0.75, height * 0.75), fill=(224, 180, 150))
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def png(width: int = 400, height: int = 150) -> bytes:
    image = Image.new("L", (width, height), 255)
    ImageDraw.Draw(image).line((10, 120, 390, 30), fill=0, width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def wsq(seed: int = 1, size: int = 30_000) -> bytes:
    """Bytes shaped like a WSQ file: SOI, a comment and transform table, the frame header, one
    block, EOI. (Its marker structure is what the hub checks; the coefficients are noise.)"""
    comment = b"NIST_COM\nPIX_WIDTH 500\nPIX_HEIGHT 500\nPPI 500\n"
    table = bytes(range(40))
    frame = bytes([0, 0xFF, 0x01, 0xF4, 0x01, 0xF4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])
    body = hashlib.shake_256(str(seed).encode()).digest(size)
    return (
        b"\xff\xa0"
        + b"\xff\xa8"
        + (len(comment) + 2).to_bytes(2, "big")
        + comment
        + b"\xff\xa4"
        + (len(table) + 2).to_bytes(2, "big")
        + table
        + b"\xff\xa2"
        + (len(frame) + 2).to_bytes(2, "big")
        + frame
        + b"\xff\xa3\x00\x03\x01"
        + body.replace(b"\xff", b"\xfe")
        + b"\xff\xa1"
    )


@pytest.fixture
def portal_token() -> str:
    """The hub client's token (a portal, not a device)."""
    return TOKEN


@pytest.fixture(scope="session")
def images() -> dict[str, bytes]:
    return {
        "photo": jpeg(),
        "photo_jp2": jpeg(fmt="JPEG2000"),
        "landscape": jpeg(1063, 827),
        "small": jpeg(300, 386),
        "square": jpeg(900, 900 + 1),
        "fingerprint_1": wsq(1),
        "fingerprint_2": wsq(2),
        "fingerprint_png": png(500, 500),
        "signature": png(),
    }


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    key = os.urandom(32)
    monkeypatch.setenv("TEST_KOFFER_MASTER", base64.b64encode(key).decode())
    monkeypatch.setenv("TEST_KOFFER_CALLBACK", CALLBACK)
    return key


def make_koffer_config(
    tmp_path: Path,
    receiver_url: str | None = None,
    adapter_tls: dict[str, str] | None = None,
    **plugin: Any,
) -> Any:
    adapters: dict[str, Any] = {"file": {"directory": str(tmp_path / "out")}}
    routes: list[dict[str, Any]] = [{"adapters": ["file"]}]
    if receiver_url:
        adapters["passport_office"] = {
            "url": receiver_url,
            "keys_dir": str(tmp_path / "keys"),
            "timeout": 10,
            **(adapter_tls or {}),
        }
        routes = [{"leika": "990*", "adapters": ["passport_office"]}]
    return hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        delivery={"workers": 1, "poll_interval": 0.05, "backoff_initial": 0.05, "backoff_max": 0.2},
        routes=routes,
        adapters=adapters,
        plugins={
            "ozg_catalog": {"pvog_enabled": False},
            "bundesdruckerei": {
                "master_key": "env:TEST_KOFFER_MASTER",
                "data_dir": str(tmp_path / "koffer"),
                "callback_tokens": ["env:TEST_KOFFER_CALLBACK"],
                **plugin,
            },
        },
    )


@pytest.fixture
def koffer_toml(tmp_path: Path):
    """Write a minimal koffer hub config as TOML (SQLite, file adapter, the master key from
    $TEST_KOFFER_MASTER) for commands and ``hub serve`` processes; returns its path."""

    def write(port: int | None = None) -> Path:
        path = tmp_path / "hub.toml"
        server = f"[server]\nport = {port}\n" if port else ""
        path.write_text(f"""{server}
[store]
url = "sqlite:///{tmp_path / "hub.db"}"
[[routes]]
adapters = ["file"]
[adapters.file]
directory = "{tmp_path / "out"}"
[attachments]
directory = "{tmp_path / "attachments"}"
[plugins.bundesdruckerei]
master_key = "env:TEST_KOFFER_MASTER"
data_dir = "{tmp_path / "koffer"}"
""")
        return path

    return write


@pytest.fixture
def koffer_config():
    """Build a koffer hub config: (tmp_path, receiver_url=None, adapter_tls=None, **plugin)."""
    return make_koffer_config


@pytest.fixture
def application_for():
    """Register a device on a live hub, upload a complete application, submit; the record id."""

    def submit(live: LiveHub, images: dict[str, bytes], case: str = "case-tls-0001") -> str:
        k = Koffer(live, koffer_state(live.hub).register("koffer-07", ARS))
        with k.http() as c:
            r = c.post("/v1/koffer/applications", json=k.application(case, images))
        assert r.status_code == 202, r.text
        return r.json()["id"]

    return submit


class Koffer:
    """A live hub with one registered device, and helpers a koffer would have."""

    def __init__(self, live: LiveHub, token: str):
        self.live = live
        self.token = token
        self.hub = live.hub
        self.store = koffer_state(live.hub)

    def http(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.live.url,
            headers={"Authorization": f"Bearer {token or self.token}", "Tus-Resumable": "1.0.0"},
            timeout=20,
        )

    def tus(self, token: str | None = None) -> Any:
        from tusclient import client

        return client.TusClient(
            f"{self.live.url}/v1/koffer/uploads",
            headers={"Authorization": f"Bearer {token or self.token}"},
        )

    def upload(self, data: bytes, purpose: str, case: str, chunk_size: int = 64 * 1024) -> str:
        """Upload with the tuspy client as it ships; returns the upload id."""
        uploader = self.tus().uploader(
            file_stream=io.BytesIO(data),
            chunk_size=chunk_size,
            metadata={
                "purpose": purpose,
                "case": case,
                "filename": f"{purpose}.bin",
                "location": "Seniorenheim Am Park",
            },
            upload_checksum=True,
        )
        uploader.upload()
        return uploader.url.rsplit("/", 1)[-1]

    def application(self, case: str, images: dict[str, bytes], **overrides: Any) -> dict:
        parts = [
            ("photo", "image/jpeg", images["photo"]),
            ("fingerprint", "image/x-wsq", images["fingerprint_1"]),
            ("fingerprint", "image/x-wsq", images["fingerprint_2"]),
            ("signature", "image/png", images["signature"]),
        ]
        attachments = [
            {
                "id": self.upload(data, purpose, case),
                "purpose": purpose,
                "media_type": media_type,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for purpose, media_type, data in parts
        ]
        body = {
            "service": {"leika_key": PASSPORT},
            "municipality": {"ars": ARS},
            "location": {"name": "Seniorenheim Am Park"},
            "applicant": {
                "given_names": "Erika",
                "family_name": "Mustermann",
                "date_of_birth": "1964-08-12",
            },
            "attachments": attachments,
        }
        body.update(overrides)
        return body


@pytest.fixture
def koffer(tmp_path: Path, master_key: bytes) -> Iterator[Koffer]:
    with LiveHub(make_koffer_config(tmp_path)) as live:
        token = koffer_state(live.hub).register("koffer-07", ARS)
        yield Koffer(live, token)


class ReceiverServer:
    def __init__(self, directory: Path, hub_url: str, **kw: Any):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.receiver = Receiver(
            directory, f"{hub_url}/v1/koffer/jwks.json", hub_url, CALLBACK, **kw
        )

    def start(self) -> ReceiverServer:
        """Serve (again, after :meth:`stop`) on the same port."""
        self.server = uvicorn.Server(
            uvicorn.Config(self.receiver.app, host="127.0.0.1", port=self.port, log_config=None)
        )
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        assert wait_until(lambda: self.server.started, timeout=10)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def delivering(tmp_path: Path, master_key: bytes) -> Iterator[tuple[Koffer, ReceiverServer]]:
    """A hub routing passport applications to the reference receiver, which calls back."""
    hub_port = free_port()
    receiver = ReceiverServer(tmp_path / "received", f"http://127.0.0.1:{hub_port}")
    with LiveHub(make_koffer_config(tmp_path, receiver.url), port=hub_port) as live:
        receiver.start()
        token = koffer_state(live.hub).register("koffer-07", ARS)
        try:
            yield Koffer(live, token), receiver
        finally:
            if receiver.server.started and not receiver.server.should_exit:
                receiver.stop()
