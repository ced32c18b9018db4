"""XTA over mutual TLS: the gateway simulator behind uvicorn with a client-certificate check."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import uvicorn
from pydantic import ValidationError

import hub
from hub.testing import TestPki, free_port, wait_until
from hub_xmeld import adapter, xta_schema
from hub_xmeld.sim import xta_gateway as xta_sim

ACCOUNT = "psw:05111999"


@pytest.fixture
def tls_gateway(tmp_path: Path, xoev_dir: Path):
    pki = TestPki(tmp_path / "pki")
    gw = xta_sim.XtaGateway(xta_schema.compile_schema(xoev_dir), accounts={ACCOUNT})
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(gw.app, host="127.0.0.1", port=port, log_config=None, **pki.uvicorn_ssl())
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, timeout=10)
    yield f"https://127.0.0.1:{port}", pki
    server.should_exit = True
    thread.join(5)


def settings(url: str, xoev_dir: Path, **tls: str | None) -> adapter.InboxSettings:
    return adapter.InboxSettings(
        management_url=f"{url}/management",
        send_url=f"{url}/send",
        msgbox_url=f"{url}/msgbox",
        account=ACCOUNT,
        schema_dir=str(xoev_dir),
        timeout=5,
        **tls,
    )


def test_mutual_tls_with_the_configured_client_certificate(tls_gateway, xoev_dir) -> None:
    url, pki = tls_gateway
    client, _ = settings(
        url, xoev_dir, client_cert=pki.client_cert, client_key=pki.client_key, ca_bundle=pki.ca
    ).client()
    assert client.check_account_active() is True
    assert client.create_message_id().startswith("urn:de:xta:messageid:")


def test_without_a_client_certificate_or_the_right_ca_nothing_goes_through(
    tls_gateway, xoev_dir
) -> None:
    url, pki = tls_gateway
    no_cert, _ = settings(url, xoev_dir, ca_bundle=pki.ca).client()
    with pytest.raises(hub.AdapterError):
        no_cert.check_account_active()
    unknown_ca, _ = settings(
        url, xoev_dir, client_cert=pki.client_cert, client_key=pki.client_key
    ).client()
    with pytest.raises(hub.AdapterError):
        unknown_ca.check_account_active()


def test_tls_settings_are_checked_when_the_hub_starts(tmp_path: Path, xoev_dir) -> None:
    with pytest.raises(ValidationError, match="go together"):  # refused as the table is read
        settings("https://x", xoev_dir, client_cert=str(tmp_path / "a.crt"))
    with pytest.raises(hub.ConfigurationError, match="no such file"):
        settings(
            "https://x", xoev_dir, client_cert=str(tmp_path / "a"), client_key=str(tmp_path / "b")
        ).client()
