"""Fixtures: a live hub with BundID configured, and the simulator as a real server on loopback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.testing import LiveHub, PluginManager, free_port, hub_config
from hub.testing import html_form as form
from hub_bundid import keys
from hub_bundid.sim.server import Simulator, SimulatorConfig, SimulatorServer

TOKEN = "bundid-test-token-0123"


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture(scope="session")
def key_material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SP keys generated once per test session (3072-bit generation is slow)."""
    directory = tmp_path_factory.mktemp("bundid-keys")
    for name in ("sp-signing", "sp-encryption"):
        pair = keys.generate(name, bits=2048)
        (directory / f"{name}.key").write_bytes(pair.key_pem)
        (directory / f"{name}.crt").write_bytes(pair.cert_pem)
    (directory / "session.secret").write_text("s" * 48)
    return directory


class Setup:
    def __init__(self, live: LiveHub, simulator: Simulator, sim_url: str):
        self.live = live
        self.simulator = simulator
        self.sim_url = sim_url
        self.token = TOKEN

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.live.url, timeout=10)

    def answer(
        self,
        persona: str,
        *,
        service: str | None = None,
        binding: str = "post",
        browser: httpx.Client | None = None,
        next_path: str = "/bundid/me",
    ) -> tuple[str, dict[str, str]]:
        """Start a login and let the simulator's picker answer as ``persona``: returns the
        ACS form (action, fields) the browser would post next."""
        b = browser or self.browser()
        params = {"next": next_path, "binding": binding}
        if service:
            params["service"] = service
        start = b.get("/bundid/login", params=params)
        if binding == "post":
            action, fields = form(start.text)
            picker = httpx.post(action, data=fields)
        else:
            assert start.status_code == 303
            picker = httpx.get(start.headers["location"])
        token = re.search(r'name=pending value="([^"]+)"', picker.text).group(1)
        answer = httpx.post(
            f"{self.sim_url}/idp/simulator/respond", data={"pending": token, "persona": persona}
        )
        return form(answer.text)

    def login(
        self,
        persona: str = "eid",
        *,
        browser: httpx.Client | None = None,
        accept: str = "application/json",
        **kw: Any,
    ) -> httpx.Response:
        """Log in as a person would: hub → simulator picker → persona → ACS. Returns the ACS
        response; the browser keeps the session cookie."""
        b = browser or self.browser()
        action, fields = self.answer(persona, browser=b, **kw)
        return b.post(action, data=fields, headers={"Accept": accept})


def bundid_config(tmp_path: Path, key_dir: Path, sim_url: str, port: int, **bundid: Any):
    keys_copy = tmp_path / "keys"
    shutil.copytree(key_dir, keys_copy)
    return hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "outbox",
        TOKEN,
        server={"port": port},
        plugins={
            "ozg_catalog": {"pvog_enabled": False},
            "bundid": {
                "entity_id": "https://hub.test/bundid",
                "acs_url": f"http://127.0.0.1:{port}/bundid/acs",
                "organization_display_name": "Stadt Musterstadt",
                "online_service_id": "BMI-A0001",
                "idp_metadata": f"{sim_url}/idp",
                "keys_dir": str(keys_copy),
                "min_levels": {"99008001*": "hoch", "99115005*": "substantiell"},
                **bundid,
            },
        },
    )


@pytest.fixture
def bundid(tmp_path: Path, key_material: Path, request) -> Iterator[Setup]:
    options = getattr(request, "param", {})
    sim_port, hub_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    sp_sign = keys.load(key_material / "sp-signing.key", key_material / "sp-signing.crt", "s")
    sp_enc = keys.load(key_material / "sp-encryption.key", key_material / "sp-encryption.crt", "e")
    simulator = Simulator(
        SimulatorConfig(
            base_url=sim_url,
            sp_certs=[sp_sign.cert_pem],
            sp_encryption_cert=sp_enc.cert_pem,
            legacy=options.get("legacy", False),
        )
    )
    server = SimulatorServer(simulator, "127.0.0.1", sim_port)
    server.start()
    config = bundid_config(tmp_path, key_material, sim_url, hub_port, **options.get("settings", {}))
    with LiveHub(config, PluginManager(), port=hub_port) as live:
        yield Setup(live, simulator, sim_url)
    server.stop()
