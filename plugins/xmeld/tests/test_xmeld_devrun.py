"""`make run`'s configuration, run as a real process: the example Anmeldung goes out as 1704
through the embedded XTA gateway to the simulated Meldebehörde and comes back registered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from hub.testing import wait_until

ROOT = Path(__file__).resolve().parents[3]
HEADERS = {"Authorization": "Bearer dev-token-not-for-production"}
BASE = "http://127.0.0.1:8080"


def test_dev_config_runs_the_whole_anmeldung(tmp_path: Path, xoev_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUB_DISABLE_PLUGINS"}
    env["HUB_XOEV_DIR"] = str(xoev_dir)
    (tmp_path / "examples").symlink_to(
        ROOT / "examples"
    )  # config paths are relative, as in make run
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "--config", str(ROOT / "examples" / "hub.dev.toml"), "serve"],
        cwd=tmp_path,  # var/ (database, outbox, keys) goes here
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{BASE}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(ready, timeout=30), "the hub did not come up"
        with httpx.Client(base_url=BASE, headers=HEADERS, timeout=10) as c:
            body = json.loads((ROOT / "examples" / "sample-record.json").read_text("utf-8"))
            rid = c.post("/v1/records", json=body).json()["id"]

            def history() -> list[str]:
                return [h["status"] for h in c.get(f"/v1/records/{rid}").json()["history"]]

            assert wait_until(lambda: "meldebehoerde:continues" in history(), timeout=30)
            letters = httpx.get("http://127.0.0.1:8090/letters").json()["ags:05111000"]
            [code] = letters.values()
            r = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": code})
            assert r.status_code == 202
            assert wait_until(lambda: "meldebehoerde:registered" in history(), timeout=30)
            items = c.get(f"/v1/records/{rid}/attachments").json()["items"]
            assert len(items) == 3
        assert (tmp_path / "var" / "outbox" / f"{rid}.json").is_file()  # the file route too
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
