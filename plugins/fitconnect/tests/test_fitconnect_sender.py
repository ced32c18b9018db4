"""The hub as a FIT-Connect sender, delivering through the simulator to a subscribing hub, the
callback endpoint, and retries that never make a second submission."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import httpx
import pytest
import structlog
from joserfc.jwk import RSAKey

import hub
from hub import DeliveryContext
from hub.testing import Hub, LiveHub, hub_config, sample_submission
from hub_fitconnect import sender
from hub_fitconnect.plugin import verify_callback

DEST = "7e4a3c52-1d0b-4c8e-9a51-2f3b6d8e0c14"
LEIKA = "99050012104000"
SCHEMA_URI = "https://schema.example.org/gewerbeanmeldung/1.0.0/schema.json"
CALLBACK_SECRET = "callback-secret-of-at-least-32-characters"


@pytest.fixture
def sending_hub(simulator, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TEST_FC_SECRET", "s3cret-client-secret-0123456789")
    adapter = {
        "submission_api": simulator.url,
        "token_url": f"{simulator.url}/token",
        "client_id": "sender-1",
        "client_secret": "env:TEST_FC_SECRET",
        "data_schema_uri": SCHEMA_URI,
        "destination_id": DEST,
        "timeout": 10,
    }

    def make(**changes):
        h = Hub(
            hub_config(
                f"sqlite:///{tmp_path / 'send.db'}",
                tmp_path / "out",
                "fc-send-token-0123",
                delivery={"workers": 0},
                routes=[{"leika": "990500*", "adapters": ["fitconnect"]}],
                adapters={"fitconnect": {**adapter, **changes}},
                plugins={"ozg_catalog": {"pvog_enabled": False}},
            )
        )
        h.start(intake_thread=False)
        return h

    made = []
    yield lambda **c: made.append(make(**c)) or made[-1]
    for h in made:
        h.close()


def gewerbe(h: Hub) -> str:
    data = sample_submission(
        service={"leika_key": LEIKA},
        channel="portal",
        payload={"betrieb": {"name": "Kiosk Ülker"}, "antragsteller": {"nachname": "Ülker"}},
    )
    rid = h.intake.submit(hub.Submission.model_validate(data), client="portal").record_id
    h.attachments.add(
        rid,
        "gewerbe-nachweis",
        purpose="report",
        media_type="application/pdf",
        data=b"%PDF-1.7 Nachweis",
        filename="Gewerbenachweis Ülker.pdf",
    )
    return rid


def context(h: Hub, rid: str, attempt: int) -> DeliveryContext:
    return DeliveryContext(
        hub=h,
        record_id=rid,
        adapter="fitconnect",
        attempt=attempt,
        settings={},
        http=h.http,
        log=structlog.get_logger("test"),
    )


def test_a_record_goes_from_one_hub_to_another(simulator, sending_hub, subscriber_config):
    a = sending_hub()
    rid = gewerbe(a)
    receipt = a.adapters["fitconnect"].deliver(a.store.get_record(rid), context(a, rid, 1))
    assert receipt["destinationId"] == DEST
    b = Hub(subscriber_config(simulator.url))
    b.start(intake_thread=False)
    try:
        channel = b.registry.channel_types["fitconnect_subscriber"].factory(
            dict(b.config.channels["fitconnect_subscriber"]), b
        )
        assert channel.poll()["accepted"] == 1
        [row] = b.store.list_records(limit=10)
        got = b.store.get_record(row.id)
        assert got.service.leika_key == LEIKA and got.payload["betrieb"]["name"] == "Kiosk Ülker"
        [attachment] = got.attachments
        assert b.attachments.read(str(got.id), attachment.id) == b"%PDF-1.7 Nachweis"
        # file name and purpose travel with it through FIT-Connect's metadata
        assert (attachment.filename, attachment.purpose) == ("Gewerbenachweis Ülker.pdf", "report")
    finally:
        b.close()
    api = a.adapters["fitconnect"].api
    assert sender.follow(a, api) == 1  # the accept event, verified, becomes the record's status
    assert a.store.get_record(rid).history[-1].status == "fitconnect:accepted"
    assert sender.follow(a, api) == 0


def test_a_retry_after_a_failed_submit_makes_no_second_submission(simulator, sending_hub):
    a = sending_hub()
    rid = gewerbe(a)
    adapter = a.adapters["fitconnect"]
    simulator.sim.fail_next("PUT", "/v2/submissions/", 503)
    with pytest.raises(hub.TransientError):
        adapter.deliver(a.store.get_record(rid), context(a, rid, 1))
    receipt = adapter.deliver(a.store.get_record(rid), context(a, rid, 2))
    assert len(simulator.sim.submissions) == 1
    assert simulator.sim.submissions[receipt["submissionId"]].state == "submitted"


def test_the_routing_api_finds_the_destination_by_its_signature(simulator, sending_hub):
    a = sending_hub(
        destination_id=None,
        routing_api=simulator.url,
        portal_jwks=f"{simulator.url}/portal/jwks.json",
    )
    adapter = a.adapters["fitconnect"]
    assert adapter.route(LEIKA, "051110000000") == DEST
    with pytest.raises(hub.PermanentError, match="no FIT-Connect destination"):
        adapter.route(LEIKA, "091620000000")
    real = simulator.sim._route
    forged_key = RSAKey.generate_key(2048, parameters={"kid": "portal-1"})

    def forged(d, leika, ars):  # a route signed by someone else than the portal
        keep, simulator.sim.portal_key = simulator.sim.portal_key, forged_key
        try:
            return real(d, leika, ars)
        finally:
            simulator.sim.portal_key = keep

    simulator.sim._route = forged
    with pytest.raises(hub.PermanentError, match="destinationSignature"):
        adapter.route(LEIKA, "051110000000")


def test_destination_checks(simulator, sending_hub):
    a = sending_hub()
    adapter = a.adapters["fitconnect"]
    with pytest.raises(hub.PermanentError, match="does not offer"):
        adapter.destination_key(DEST, "99999999999999")
    simulator.sim.destinations[DEST].status = "inactive"
    with pytest.raises(hub.PermanentError, match="inactive"):
        adapter.destination_key(DEST, LEIKA)


def _signed(body: bytes, secret: str = CALLBACK_SECRET, at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha512).hexdigest()
    return {
        "callback-timestamp": stamp,
        "callback-authentication": mac,
        "Content-Type": "application/json",
    }


def test_callbacks_are_verified_before_anything_is_fetched(simulator, subscriber_config):
    with LiveHub(subscriber_config(simulator.url)) as live:
        channel = live.hub.registry.channel_types["fitconnect_subscriber"].factory(
            dict(live.hub.config.channels["fitconnect_subscriber"]), live.hub
        )
        url = f"{live.url}/v1/fitconnect/callback/{DEST}"
        body = (
            b'{"type": "https://schema.fitko.de/fit-connect/submission-api/callbacks/'
            b'new-submissions", "submissions": [{"destinationId": "'
            + DEST.encode()
            + b'", "submissionId": "x", "caseId": "y"}]}'
        )
        assert httpx.post(url, content=body, headers=_signed(body)).status_code == 204
        assert channel.wake.is_set()
        channel.wake.clear()
        for headers in (
            _signed(body, secret="wrong-secret-wrong-secret-wrong-secret"),
            _signed(body, at=int(time.time()) - 301),
            {"Content-Type": "application/json"},
        ):
            assert httpx.post(url, content=body, headers=headers).status_code == 401
        changed = body.replace(b'"x"', b'"z"')  # the body is what was signed, byte for byte
        assert httpx.post(url, content=changed, headers=_signed(body)).status_code == 401
        other = body.replace(DEST.encode(), b"00000000-0000-0000-0000-000000000000")
        assert httpx.post(url, content=other, headers=_signed(other)).status_code == 422
        for broken, rule in ((b"{not json", "json_invalid"), (b'{"n": NaN}', "json_finite_number")):
            r = httpx.post(url, content=broken, headers=_signed(broken))
            assert r.status_code == 400 and r.json()["errors"][0]["rule"] == rule
        listed = b'{"submissions": 5}'
        r = httpx.post(url, content=listed, headers=_signed(listed))
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "submissions"
        assert not channel.wake.is_set()


def test_verify_callback_rules() -> None:
    body, now = b"{}", 1_700_000_000
    mac = hmac.new(b"k" * 32, b"1700000000." + body, hashlib.sha512).hexdigest()
    assert verify_callback("k" * 32, "1700000000", body, mac, now=now)
    assert verify_callback("k" * 32, "1700000000", body, mac.upper(), now=now)
    assert not verify_callback("k" * 32, "1700000000", body, mac, now=now + 301)
    assert not verify_callback("k" * 32, "1700000000", body, mac, now=now - 60)
    assert not verify_callback("k" * 32, "17e8", body, mac, now=now)


def test_a_rejection_comes_back_as_the_records_status(simulator, sending_hub, subscriber_config):
    a = sending_hub()
    data = sample_submission(
        service={"leika_key": LEIKA}, channel="portal", payload={"betrieb": {}}
    )  # the receiver's schema wants more
    rid = a.intake.submit(hub.Submission.model_validate(data), client="portal").record_id
    a.adapters["fitconnect"].deliver(a.store.get_record(rid), context(a, rid, 1))
    b = Hub(subscriber_config(simulator.url))
    b.start(intake_thread=False)
    try:
        channel = b.registry.channel_types["fitconnect_subscriber"].factory(
            dict(b.config.channels["fitconnect_subscriber"]), b
        )
        assert channel.poll()["rejected"] == 1
    finally:
        b.close()
    assert sender.follow(a, a.adapters["fitconnect"].api) == 1
    last = a.store.get_record(rid).history[-1]
    assert last.status == "fitconnect:rejected" and "Schemaverletzung" in last.detail
