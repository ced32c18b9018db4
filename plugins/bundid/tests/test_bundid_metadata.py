"""BundID's metadata as ops meet it: a missing or broken file stops the start with a clear
line, an unreachable URL is reported by ``hub doctor`` and gives people a page (not a 500),
plain http off this machine is flagged."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

import hub
from hub.testing import Hub, LiveHub, PluginManager, free_port, hub_config
from hub_bundid import keys, messages
from hub_bundid.sp import metadata_over_http


def config(tmp_path: Path, key_material: Path, idp_metadata: str):
    shutil.copytree(key_material, tmp_path / "keys")
    return hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "outbox",
        "bundid-metadata-token-0123",
        plugins={
            "ozg_catalog": {"pvog_enabled": False},
            "bundid": {
                "entity_id": "https://hub.test/bundid",
                "acs_url": "http://127.0.0.1:9/bundid/acs",
                "organization_display_name": "Stadt Musterstadt",
                "idp_metadata": idp_metadata,
                "keys_dir": str(tmp_path / "keys"),
            },
        },
    )


def test_a_missing_metadata_file_refuses_the_start(tmp_path, key_material) -> None:
    h = Hub(config(tmp_path, key_material, str(tmp_path / "nowhere.xml")), PluginManager())
    with pytest.raises(hub.ConfigurationError) as refused:
        h.start(intake_thread=False)
    assert "idp_metadata" in str(refused.value) and "metadata_unavailable" in str(refused.value)
    h.close()


def test_a_bad_certificate_in_the_metadata_refuses_the_start(tmp_path, key_material) -> None:
    pair = keys.generate("idp", bits=2048)
    good = messages.idp_metadata("https://id.bund.de/idp", "https://id.bund.de", pair, pair)
    cert_b64 = b"".join(pair.cert_pem.splitlines()[1:-1])
    broken = good.replace(cert_b64, b"TUlJQm9ndXNjZXJ0aWZpY2F0ZQ==")
    assert broken != good
    (tmp_path / "idp.xml").write_bytes(broken)
    h = Hub(config(tmp_path, key_material, str(tmp_path / "idp.xml")), PluginManager())
    with pytest.raises(hub.ConfigurationError) as refused:
        h.start(intake_thread=False)
    assert "metadata_invalid" in str(refused.value)
    h.close()


def test_an_unreachable_metadata_url_is_reported_and_people_get_a_page(
    tmp_path, key_material
) -> None:
    url = f"http://127.0.0.1:{free_port()}/idp"
    with LiveHub(config(tmp_path, key_material, url), PluginManager()) as live:
        [(name, ok, text)] = live.hub.plugins.health(live.hub)
        assert name == "bundid: idp metadata" and ok is False
        assert text.startswith("metadata_unavailable")
        page = httpx.get(f"{live.url}/bundid/login", headers={"Accept": "text/html"})
        assert page.status_code == 503
        assert "Die BundID ist gerade nicht erreichbar" in page.text


def test_plain_http_metadata_off_this_machine_is_flagged() -> None:
    assert metadata_over_http("http://idp.example.org/metadata")
    assert not metadata_over_http("http://127.0.0.1:8089/idp")
    assert not metadata_over_http("https://id.bund.de/metadata")
