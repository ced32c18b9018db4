"""`make run`'s configuration as real processes: a device registered on the command line runs
the example koffer session; the application reaches the embedded reference receiver, which
calls back, and the hub destroys its copy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from hub.testing import wait_until

ROOT = Path(__file__).resolve().parents[3]
CONFIG = str(ROOT / "examples" / "hub.dev.toml")


def test_dev_config_runs_a_koffer_session(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUB_DISABLE_PLUGINS"}
    env.setdefault("HUB_XOEV_DIR", str(ROOT.parent / "shared" / "xoev"))
    hub = [sys.executable, "-m", "hub", "--config", CONFIG]
    (tmp_path / "examples").symlink_to(
        ROOT / "examples"
    )  # config paths are relative, as in make run
    proc = subprocess.Popen(
        [*hub, "serve"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:

        def ready() -> bool:
            try:
                return httpx.get("http://127.0.0.1:8080/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(ready, timeout=30), "the hub did not come up"
        registered = subprocess.run(
            [*hub, "koffer", "register", "--name", "koffer-dev", "--municipality", "051110000000"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert registered.returncode == 0, registered.stderr
        token = registered.stdout.strip()
        session = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "koffer_session.py"),
                "--token",
                token,
                "--wait",
                "20",
                "--until",
                "passport_office:received",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert session.returncode == 0, session.stderr
        assert "accepted" in session.stdout
        assert "passport_office:received" in session.stdout, session.stdout
        rid = session.stdout.split("application ", 1)[1].split()[0]
        assert (tmp_path / "var" / "receiver" / rid / "manifest.json").is_file()
        assert not any((tmp_path / "var" / "koffer").glob("case-*"))  # the hub's copy is gone
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
