"""Nothing leaves the machine: the hub started as the README says (`make run`'s config, every
bundled plugin) and used as the README says opens no connection and looks up no name off
loopback. An audit hook in the hub process records every socket connect and name lookup."""

from __future__ import annotations

import ast
import ipaddress
import json
import re
from pathlib import Path

import httpx

from hub.testing import wait_until

HEADERS = {"Authorization": "Bearer dev-token-not-for-production"}
HOOK = Path(__file__).parent / "offline"


def _local(target: object) -> bool:
    if isinstance(target, str):  # a Unix socket path, or a host name looked up
        return target.startswith("/") or target in ("localhost", "") or _loopback(target)
    if isinstance(target, tuple) and target:
        return _loopback(str(target[0]))
    return target is None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def test_the_readme_hub_contacts_nothing_off_loopback(tmp_path: Path, dev_hub, repo) -> None:
    log = tmp_path / "connections.log"
    with (
        dev_hub(tmp_path, PYTHONPATH=str(HOOK), HUB_TEST_CONNECT_LOG=str(log)),
        httpx.Client(base_url="http://127.0.0.1:8080", headers=HEADERS, timeout=10) as c,
    ):
        docs = c.get("/docs")
        assert docs.status_code == 200
        for asset in re.findall(r'(?:src|href)="([^"]+)"', docs.text):
            assert asset.startswith("/docs/assets/"), asset  # no CDN
            assert c.get(asset).status_code == 200
        ids = []
        for example in ("sample-record.json", "gewerbe-record.json"):
            body = json.loads((repo / "examples" / example).read_text("utf-8"))
            ids.append(c.post("/v1/records", json=body).json()["id"])

        def history(rid: str) -> list[str]:
            return [h["status"] for h in c.get(f"/v1/records/{rid}").json()["history"]]

        # the Anmeldung reached the simulated Meldebehörde, the Gewerbeanmeldung went round
        # FIT-Connect: the plugins did their remote work while we watched
        assert wait_until(lambda: any(s.startswith("meldebehoerde:") for s in history(ids[0])), 30)
        assert wait_until(lambda: "fitconnect:accepted" in history(ids[1]), 30)
        assert c.get("/v1/catalog/search", params={"q": "Anmeldung Wohnung"}).status_code == 200
    seen = [line.split("\t", 1) for line in log.read_text("utf-8").splitlines()]
    assert any(kind == "connect" for kind, _ in seen)  # the hook did record the process
    outside = [(kind, target) for kind, target in seen if not _local(ast.literal_eval(target))]
    assert outside == []
