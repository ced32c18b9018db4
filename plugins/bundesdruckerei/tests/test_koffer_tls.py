"""The package over mutual TLS: the receiver demands a client certificate, the adapter has one."""

from __future__ import annotations

import threading
from pathlib import Path

import uvicorn

from hub.testing import LiveHub, TestPki, free_port, wait_until
from hub_bundesdruckerei.sim.receiver import Receiver


def test_delivery_with_a_client_certificate(
    tmp_path: Path, master_key, images, koffer_config, application_for
) -> None:
    pki = TestPki(tmp_path / "pki")
    hub_port, port = free_port(), free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    receiver = Receiver(
        tmp_path / "received",
        f"{hub_url}/v1/koffer/jwks.json",
        hub_url,
        "callback-token-for-tests-0123456789",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            receiver.app, host="127.0.0.1", port=port, log_config=None, **pki.uvicorn_ssl()
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, timeout=10)
    config = koffer_config(
        tmp_path,
        f"https://127.0.0.1:{port}",
        adapter_tls={
            "client_cert": pki.client_cert,
            "client_key": pki.client_key,
            "ca_bundle": pki.ca,
        },
    )
    try:
        with LiveHub(config, port=hub_port) as live:
            rid = application_for(live, images)
            assert wait_until(
                lambda: (
                    "passport_office:received"
                    in [h.status for h in live.hub.store.get_record(rid).history]
                ),
                timeout=20,
            )
    finally:
        server.should_exit = True
        thread.join(5)


def test_without_the_client_certificate_nothing_is_delivered(
    tmp_path: Path, master_key, images, koffer_config, application_for
):
    pki = TestPki(tmp_path / "pki")
    port = free_port()
    receiver = Receiver(tmp_path / "received", "http://127.0.0.1:9/jwks", "http://127.0.0.1:9", "x")
    server = uvicorn.Server(
        uvicorn.Config(
            receiver.app, host="127.0.0.1", port=port, log_config=None, **pki.uvicorn_ssl()
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, timeout=10)
    config = koffer_config(tmp_path, f"https://127.0.0.1:{port}", adapter_tls={"ca_bundle": pki.ca})
    try:
        with LiveHub(config) as live:
            rid = application_for(live, images)
            assert wait_until(
                lambda: (d := live.hub.store.get_record(rid).deliveries) and d[0].attempts >= 2,
                timeout=20,
            )
            record = live.hub.store.get_record(rid)
            assert record.deliveries[0].status.value != "delivered"
            assert not (tmp_path / "received" / rid).exists()
    finally:
        server.should_exit = True
        thread.join(5)
