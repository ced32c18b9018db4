"""The built-in file and webhook adapters, end to end through a live hub."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import hub
from hub.adapters.webhook import SIGNATURE_HEADER, verify
from hub.core.errors import ConfigurationError
from hub.core.hub import Hub
from hub.testing import LiveHub, WebhookReceiver, free_port, sample_submission, wait_until

from .conftest import TOKEN

SECRET = "s3cret-webhook-key-0123"


def submit(live: LiveHub) -> str:
    with live.client(TOKEN) as c:
        r = c.post("/v1/records", json=sample_submission())
        assert r.status_code == 202
        return r.json()["id"]


def status(live: LiveHub, rid: str) -> str:
    return live.hub.store.get_record(rid).status.value


def test_file_adapter_writes_complete_records_atomically(make_config, tmp_path: Path) -> None:
    with LiveHub(make_config()) as live:
        rid = submit(live)
        assert wait_until(lambda: status(live, rid) == "delivered")
        rec = live.hub.store.get_record(rid)
    out = tmp_path / "outbox" / f"{rid}.json"
    data = json.loads(out.read_bytes())
    assert data["id"] == rid and data["applicant"]["family_name"] == "Mustermann"
    assert "history" not in data
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary files left
    assert rec.deliveries[0].status.value == "delivered"


def test_file_adapter_unwritable_directory_is_retried_not_lost(make_config, tmp_path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the directory should be")
    cfg = make_config(
        adapters={"file": {"directory": str(blocker / "outbox")}}, delivery={"max_attempts": 2}
    )
    with LiveHub(cfg) as live:
        rid = submit(live)
        assert wait_until(lambda: status(live, rid) == "dead_letter")
        err = live.hub.store.get_record(rid).deliveries[0].last_error
    assert "cannot write to" in err and "gave up after 2 attempt(s)" in err


def webhook_config(make_config, receiver: WebhookReceiver, **delivery):
    os.environ["HUB_TEST_WEBHOOK_SECRET"] = SECRET
    return make_config(
        routes=[{"adapters": ["crm"]}],
        adapters={
            "crm": {"type": "webhook", "url": receiver.url, "secret": "env:HUB_TEST_WEBHOOK_SECRET"}
        },
        delivery=delivery,
    )


def test_webhook_signs_and_sends_idempotency_key(make_config) -> None:
    receiver = WebhookReceiver()
    with receiver.running(), LiveHub(webhook_config(make_config, receiver)) as live:
        rid = submit(live)
        assert wait_until(lambda: status(live, rid) == "delivered")
    [got] = receiver.received
    assert got.headers["idempotency-key"] == rid
    assert got.json()["id"] == rid
    assert verify(SECRET.encode(), got.headers[SIGNATURE_HEADER.lower()], got.body)
    assert not verify(b"another-secret-entirely", got.headers[SIGNATURE_HEADER.lower()], got.body)
    assert not verify(SECRET.encode(), got.headers[SIGNATURE_HEADER.lower()], got.body + b" ")


def test_webhook_down_then_back_delivers_once(make_config) -> None:
    receiver = WebhookReceiver()  # not listening yet: connection refused
    with LiveHub(
        webhook_config(make_config, receiver, backoff_initial=0.2, backoff_max=0.4)
    ) as live:
        rid = submit(live)
        assert wait_until(lambda: live.hub.store.get_record(rid).deliveries[0].attempts >= 2)
        assert status(live, rid) == "delivering"
        with receiver.running():
            receiver.fail_next(1, 503, {"Retry-After": "0"})
            assert wait_until(lambda: status(live, rid) == "delivered")
        rec = live.hub.store.get_record(rid)
    assert len(receiver.received) == 1
    errors = [h.detail for h in rec.history if h.status == "retry"]
    assert any("ConnectError" in e for e in errors)
    assert any("webhook answered 503" in e for e in errors)


def test_webhook_4xx_dead_letters_and_manual_retry_recovers(make_config) -> None:
    receiver = WebhookReceiver()
    with receiver.running(), LiveHub(webhook_config(make_config, receiver)) as live:
        receiver.fail_next(1, 422)
        rid = submit(live)
        assert wait_until(lambda: status(live, rid) == "dead_letter")
        assert (
            "permanent: webhook answered 422"
            in live.hub.store.get_record(rid).deliveries[0].last_error
        )
        with live.client(TOKEN) as c:
            assert c.get("/v1/dead-letters").json()["items"][0]["record_id"] == rid
            r = c.post(f"/v1/records/{rid}/retry")
            assert r.status_code == 202 and r.json()["retried"] == ["crm"]
        assert wait_until(lambda: status(live, rid) == "delivered")
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"type": "webhook", "url": "http://127.0.0.1:9/x", "secret": SECRET},
            "secrets are given by reference",
        ),
        (
            {"type": "webhook", "url": "http://127.0.0.1:9/x", "secret": "env:HUB_TEST_UNSET_VAR"},
            "HUB_TEST_UNSET_VAR is not set",
        ),
        ({"type": "webhook", "url": "not a url", "secret": "env:HOME"}, "url"),
        ({"type": "file"}, "directory"),
        ({"type": "file", "directory": "/tmp/x", "colour": "blue"}, "colour"),
    ],
)
def test_bad_adapter_settings_refuse_to_start(make_config, settings, message) -> None:
    cfg = make_config(routes=[{"adapters": ["a"]}], adapters={"a": settings})
    built: list[Hub] = []
    with pytest.raises(ConfigurationError, match=message):  # the table's model, or the factory
        built.append(Hub(cfg))
        _ = built[0].adapters
    for h in built:
        h.close()


def test_webhook_secret_from_file(make_config, tmp_path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    receiver = WebhookReceiver()
    cfg = make_config(
        routes=[{"adapters": ["crm"]}],
        adapters={"crm": {"type": "webhook", "url": receiver.url, "secret": f"file:{secret_file}"}},
    )
    with receiver.running(), LiveHub(cfg) as live:
        rid = submit(live)
        assert wait_until(lambda: status(live, rid) == "delivered")
    got = receiver.received[0]
    assert verify(SECRET.encode(), got.headers[SIGNATURE_HEADER.lower()], got.body)
    assert got.json()["id"] == rid


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (200, None),
        (204, None),
        (408, hub.TransientError),
        (425, hub.TransientError),
        (429, hub.TransientError),
        (503, hub.TransientError),
        (400, hub.PermanentError),
        (404, hub.PermanentError),
        (422, hub.PermanentError),
    ],
)
def test_one_mapping_from_http_status_to_the_error_tree(code, kind) -> None:
    import httpx

    response = httpx.Response(code, headers={"Retry-After": "7"}, text="Erika Mustermann")
    if kind is None:
        assert hub.raise_for_status(response, "the backend") is None
        return
    with pytest.raises(kind) as raised:
        hub.raise_for_status(response, "the backend")
    assert str(raised.value) == f"the backend answered {code}"  # never the body
    if kind is hub.TransientError:
        assert raised.value.retry_after == 7.0


def test_transport_failures_are_transient() -> None:
    import httpx

    with (
        pytest.raises(hub.TransientError, match="ConnectError reaching the backend"),
        hub.transport_errors("the backend"),
    ):
        httpx.get(f"http://127.0.0.1:{free_port()}/", timeout=2)
