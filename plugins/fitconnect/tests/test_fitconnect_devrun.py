"""`make run`'s configuration as a real process: the hub sends a Gewerbeanmeldung to itself
through the embedded FIT-Connect simulator and learns that it was accepted."""

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


def test_dev_config_sends_to_itself_over_fitconnect(tmp_path: Path, schema_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUB_DISABLE_PLUGINS"}
    env.setdefault("HUB_XOEV_DIR", str(ROOT.parent / "shared" / "xoev"))
    env["HUB_FITCONNECT_SCHEMA_DIR"] = str(schema_dir)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "--config", "examples/hub.dev.toml", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def ready() -> bool:
            try:
                return httpx.get("http://127.0.0.1:8080/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(ready, timeout=60), "the hub did not come up"
        with httpx.Client(base_url="http://127.0.0.1:8080", headers=HEADERS, timeout=10) as c:
            body = json.loads((ROOT / "examples" / "gewerbe-record.json").read_text("utf-8"))
            rid = c.post("/v1/records", json=body).json()["id"]

            def history() -> list[str]:
                return [h["status"] for h in c.get(f"/v1/records/{rid}").json()["history"]]

            assert wait_until(lambda: "fitconnect:accepted" in history(), timeout=30)
            items = c.get("/v1/records", params={"limit": 10}).json()["items"]
            received = [i for i in items if i["id"] != rid]
            assert len(received) == 1 and received[0]["channel"] == "portal"
            got = c.get(f"/v1/records/{received[0]['id']}").json()
            assert got["payload"] == body["payload"]
            assert got["applicant"]["family_name"] == "Ørsted"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
