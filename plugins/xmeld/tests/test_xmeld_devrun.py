"""`make run`'s configuration, run as a real process: the example Anmeldung goes out as 1704
through the embedded XTA gateway to the simulated Meldebehörde and comes back registered."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from hub.testing import wait_until

HEADERS = {"Authorization": "Bearer dev-token-not-for-production"}


def test_dev_config_runs_the_whole_anmeldung(tmp_path: Path, xoev_dir: Path, dev_hub, repo) -> None:
    with (
        dev_hub(tmp_path, HUB_XOEV_DIR=str(xoev_dir)),
        httpx.Client(base_url="http://127.0.0.1:8080", headers=HEADERS, timeout=10) as c,
    ):
        body = json.loads((repo / "examples" / "sample-record.json").read_text("utf-8"))
        rid = c.post("/v1/records", json=body).json()["id"]

        def history() -> list[str]:
            return [h["status"] for h in c.get(f"/v1/records/{rid}").json()["history"]]

        assert wait_until(lambda: "meldebehoerde:continues" in history(), timeout=30)
        letters = httpx.get("http://127.0.0.1:8090/letters").json()["ags:05111000"]
        [code] = letters.values()
        r = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": code})
        assert r.status_code == 202
        assert wait_until(lambda: "meldebehoerde:registered" in history(), timeout=30)
        assert len(c.get(f"/v1/records/{rid}/attachments").json()["items"]) == 3
    assert (tmp_path / "var" / "outbox" / f"{rid}.json").is_file()  # the file route too
