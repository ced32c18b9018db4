"""``ctx.http``: one client policy, per-adapter TLS (mutual TLS) from ``hub.TlsSettings``, and
an injectable transport."""

from __future__ import annotations

import os

import httpx
import pytest

from hub.core.errors import ConfigurationError
from hub.core.hub import Hub
from hub.testing import LiveHub, TestPki, WebhookReceiver, sample_submission, wait_until

from .conftest import TOKEN

SECRET = "s3cret-webhook-key-0123"


def crm(make_config, url: str, **tls):
    os.environ["HUB_TEST_WEBHOOK_SECRET"] = SECRET
    adapter = {"type": "webhook", "url": url, "secret": "env:HUB_TEST_WEBHOOK_SECRET", **tls}
    return make_config(
        routes=[{"adapters": ["crm"]}],
        adapters={"crm": adapter},
        delivery={"backoff_initial": 0.1, "backoff_max": 0.2},
    )


def submit(live: LiveHub) -> str:
    with live.client(TOKEN) as c:
        r = c.post("/v1/records", json=sample_submission())
        assert r.status_code == 202
        return r.json()["id"]


def test_an_adapter_with_a_client_certificate_delivers_over_mutual_tls(make_config, tmp_path):
    pki = TestPki(tmp_path / "pki")
    receiver = WebhookReceiver(tls=pki)
    cfg = crm(
        make_config,
        receiver.url,
        client_cert=pki.client_cert,
        client_key=pki.client_key,
        ca_bundle=pki.ca,
    )
    with receiver.running(), LiveHub(cfg) as live:
        rid = submit(live)
        assert wait_until(lambda: live.hub.store.get_record(rid).status.value == "delivered")
        # Another adapter instance, or the hub's shared client, does not carry the certificate.
        assert live.hub.http_for("crm") is not live.hub.http
    assert receiver.received[0].json()["id"] == rid


def test_without_the_client_certificate_the_receiver_refuses_and_nothing_is_delivered(
    make_config, tmp_path
):
    pki = TestPki(tmp_path / "pki")
    receiver = WebhookReceiver(tls=pki)
    with receiver.running(), LiveHub(crm(make_config, receiver.url, ca_bundle=pki.ca)) as live:
        rid = submit(live)
        assert wait_until(lambda: live.hub.store.get_record(rid).deliveries[0].attempts >= 2)
        record = live.hub.store.get_record(rid)
    assert record.status.value == "delivering" and receiver.received == []
    assert any("reaching the webhook" in (h.detail or "") for h in record.history)


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"client_cert": "/nonexistent/c.pem"}, "client_cert and client_key go together"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, r"\[adapters\.crm\] ca_bundle: no such file"),
    ],
)
def test_unusable_tls_settings_refuse_the_start_naming_the_field(make_config, tls, message):
    with pytest.raises(ConfigurationError, match=message):
        h = Hub(crm(make_config, "https://127.0.0.1:9/x", **tls))
        try:
            _ = h.adapters
        finally:
            h.close()


def test_a_transport_given_to_the_hub_carries_every_delivery(make_config):
    """Embedders and vendor tests hand the hub an httpx transport; adapters using ``ctx.http``
    need no patching."""
    seen: list[httpx.Request] = []

    def backend(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    cfg = crm(make_config, "https://crm.invalid/hook")
    with LiveHub(cfg, http_transport=httpx.MockTransport(backend)) as live:
        rid = submit(live)
        assert wait_until(lambda: live.hub.store.get_record(rid).status.value == "delivered")
    assert [str(r.url) for r in seen] == ["https://crm.invalid/hook"]
    assert seen[0].headers["idempotency-key"] == rid
