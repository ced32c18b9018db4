"""kill -9 in the middle of an upload: what was acknowledged is there after the restart, and
the upload resumes and completes with the right SHA-256."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from tusclient import client as tus

from hub.testing import free_port, wait_until

DATA = hashlib.shake_256(b"crash").digest(6 * 1024 * 1024)


def serve(config: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "--config", str(config), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_an_acknowledged_offset_survives_kill_9(tmp_path: Path, koffer_toml) -> None:
    port = free_port()
    config = koffer_toml(port)
    env = {
        **os.environ,
        "TEST_KOFFER_MASTER": base64.b64encode(os.urandom(32)).decode(),
        "HUB_DISABLE_PLUGINS": "xmeld,bundid,ozg_catalog,fitconnect",
    }
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "--config",
            str(config),
            "koffer",
            "register",
            "--name",
            "k1",
            "--municipality",
            "051110000000",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    proc = serve(config, env)
    try:
        assert wait_until(up, timeout=30)
        uploader = tus.TusClient(
            f"{base}/v1/koffer/uploads", headers={"Authorization": f"Bearer {token}"}
        ).uploader(
            file_stream=io.BytesIO(DATA),
            chunk_size=1024 * 1024,
            metadata={"purpose": "document", "case": "case-crash-01"},
            upload_checksum=True,
        )
        uploader.upload(stop_at=3 * 1024 * 1024)  # three acknowledged PATCHes
        assert uploader.offset == 3 * 1024 * 1024
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    proc = serve(config, env)
    try:
        assert wait_until(up, timeout=30)
        resumed = tus.TusClient(
            f"{base}/v1/koffer/uploads", headers={"Authorization": f"Bearer {token}"}
        ).uploader(
            file_stream=io.BytesIO(DATA),
            url=uploader.url,
            chunk_size=1024 * 1024,
            upload_checksum=True,
        )
        assert resumed.offset == 3 * 1024 * 1024  # the server still has what it acknowledged
        resumed.upload()
        head = httpx.head(
            uploader.url, headers={"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
        )
        assert head.headers["upload-offset"] == str(len(DATA))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    # The completion hash came from decrypting the stored file (the running hash died with the
    # first process): it matches the bytes sent.
    import sqlite3

    with sqlite3.connect(tmp_path / "hub.db") as db:
        (sha,) = db.execute("select sha256 from koffer_uploads").fetchone()
    assert sha == hashlib.sha256(DATA).hexdigest()
