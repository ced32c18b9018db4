"""`make run`'s configuration as a real process: the hub sends a Gewerbeanmeldung to itself
through the embedded FIT-Connect simulator and learns that it was accepted."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from hub.testing import wait_until

HEADERS = {"Authorization": "Bearer dev-token-not-for-production"}


def test_dev_config_sends_to_itself_over_fitconnect(
    tmp_path: Path, schema_dir: Path, dev_hub, repo
) -> None:
    with (
        dev_hub(tmp_path, HUB_FITCONNECT_SCHEMA_DIR=str(schema_dir)),
        httpx.Client(base_url="http://127.0.0.1:8080", headers=HEADERS, timeout=10) as c,
    ):
        body = json.loads((repo / "examples" / "gewerbe-record.json").read_text("utf-8"))
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
