"""Delivery to the passport software (the reference receiver on loopback), status callbacks,
destruction of the biometric data after confirmed receipt, retention and the audit trail."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select, update

from hub import utcnow
from hub.testing import wait_until
from hub_bundesdruckerei import package, tables

CASE = "case-deliv-0001"


def submit(koffer, images) -> str:
    with koffer.http() as c:
        r = c.post("/v1/koffer/applications", json=koffer.application(CASE, images))
    assert r.status_code == 202, r.text
    return r.json()["id"]


def history(koffer, rid: str) -> list[str]:
    return [h.status for h in koffer.hub.store.get_record(rid).history]


def test_delivered_received_and_destroyed(delivering, images, tmp_path: Path) -> None:
    koffer, receiver = delivering
    receiver.receiver.progress_delay = 0.05
    rid = submit(koffer, images)
    assert wait_until(lambda: "passport_office:ready_for_pickup" in history(koffer, rid), 20)
    statuses = history(koffer, rid)
    assert statuses.index("delivered") < statuses.index("passport_office:received")
    assert statuses.index("passport_office:in_production") < statuses.index(
        "passport_office:ready_for_pickup"
    )
    # The receiver holds exactly what the koffer captured.
    stored = tmp_path / "received" / rid
    record = koffer.hub.store.get_record(rid)
    for attachment in record.attachments:
        data = (stored / attachment.id).read_bytes()
        assert hashlib.sha256(data).hexdigest() == attachment.sha256
    manifest = json.loads((stored / "manifest.json").read_text())
    assert manifest["record"]["id"] == rid and len(manifest["attachments"]) == 4
    # The hub's copy is gone: key destroyed, files deleted; the record keeps the hashes.
    with koffer.hub.store.reading() as conn:
        case = conn.execute(select(tables.cases).where(tables.cases.c.id == CASE)).one()
    assert case.wrapped_key is None and case.destroyed_why == "confirmed received"
    assert not koffer.store.case_dir(CASE).exists()
    assert all(len(a.sha256) == 64 for a in koffer.hub.store.get_record(rid).attachments)
    assert koffer.hub.attachments.list(rid) == []  # nor does the attachment store list them
    trail = koffer.store.audit_trail()
    actions = [e["action"] for e in trail]
    assert actions.count("upload_completed") == 4
    assert "application_delivered" in actions and actions[-1] == "data_destroyed"
    flat = json.dumps(trail, default=str)
    assert "Mustermann" not in flat and "Erika" not in flat  # ids only, no personal data


def test_rejection_is_reported_and_ends_the_data_too(delivering, images) -> None:
    koffer, receiver = delivering
    receiver.receiver.reject.add("*")
    rid = submit(koffer, images)
    assert wait_until(lambda: "passport_office:rejected" in history(koffer, rid), 20)
    detail = koffer.hub.store.get_record(rid).history[-1].detail
    assert "Lichtbild nicht verwendbar" in detail
    assert not koffer.store.case_dir(CASE).exists()


def test_receiver_outage_is_retried(delivering, images) -> None:
    koffer, receiver = delivering
    receiver.stop()
    rid = submit(koffer, images)
    assert wait_until(
        lambda: (d := koffer.hub.store.get_record(rid).deliveries) and d[0].attempts >= 2, 20
    )
    assert "passport_office:received" not in history(koffer, rid)
    receiver.start()  # back on the same port: the next retry goes through
    assert wait_until(lambda: "passport_office:received" in history(koffer, rid), 20)


def test_callbacks_are_authenticated_and_checked(delivering, images) -> None:
    koffer, _ = delivering
    rid = submit(koffer, images)
    url = f"{koffer.live.url}/v1/koffer/status/{rid}"
    assert httpx.post(url, json={"status": "received"}).status_code == 401
    # authentication comes before validation: a stranger learns nothing about the body rules
    assert httpx.post(url, content=b"{not json").status_code == 401
    assert httpx.post(url, json={"bogus": 1}).status_code == 401
    forged = httpx.post(url, json={"status": "received"}, headers={"Authorization": "Bearer x"})
    assert forged.status_code == 401
    auth = {"Authorization": "Bearer callback-token-for-tests-0123456789"}
    assert httpx.post(url, json={"status": "lost"}, headers=auth).status_code == 422
    unknown = f"{koffer.live.url}/v1/koffer/status/00000000-0000-0000-0000-000000000000"
    assert httpx.post(unknown, json={"status": "received"}, headers=auth).status_code == 404


def test_the_manifest_is_signed_and_checked(delivering, images) -> None:
    koffer, receiver = delivering
    keys = httpx.get(f"{koffer.live.url}/v1/koffer/jwks.json").json()
    assert keys["keys"][0]["alg"] == "ES256" and "d" not in keys["keys"][0]
    stranger = ECKey.generate_key("P-256")
    token = package.sign({"id": "x"}, [], stranger)
    with pytest.raises(package.ManifestRejected):
        package.verify(token, keys)
    content_type, body = package.multipart(token, [])
    r = httpx.post(
        f"{receiver.url}/v1/applications",
        content=b"".join(body),
        headers={"Content-Type": content_type},
    )
    assert r.status_code == 401


def test_retention_destroys_undelivered_data(koffer, images) -> None:
    from hub_bundesdruckerei.delivery import purge

    rid = submit(koffer, images)
    with koffer.hub.store.transaction() as conn:
        conn.execute(update(tables.cases).values(created_at=utcnow() - timedelta(hours=100)))
    assert purge(koffer.hub, koffer.store) == {"expired_uploads": 0, "cases_destroyed": 1}
    assert "koffer:data_purged" in history(koffer, rid)
    assert not koffer.store.case_dir(CASE).exists()
    assert purge(koffer.hub, koffer.store)["cases_destroyed"] == 0
    # An adapter asked to deliver it now refuses for good.
    from hub_bundesdruckerei.delivery import PassportOfficeAdapter, PassportOfficeSettings

    adapter = PassportOfficeAdapter(
        PassportOfficeSettings(url="http://127.0.0.1:9", keys_dir=str(koffer.store.data_dir / "k")),
        koffer.hub,
        lambda: koffer.store,
    )
    import hub

    with pytest.raises(hub.PermanentError, match="destroyed"):
        adapter.deliver(koffer.hub.store.get_record(rid), None)


def test_the_uploads_are_the_records_attachments_but_their_bytes_stay_sealed(
    koffer, images, portal_token
) -> None:
    """The hub's one attachment store lists a koffer application's uploads (committed with the
    record); API clients get 403 for the bytes, adapters read the plaintext."""
    rid = submit(koffer, images)
    listed = koffer.hub.attachments.list(rid)
    assert sorted(a.id for a in listed) == sorted(
        a.id for a in koffer.hub.store.get_record(rid).attachments
    )
    with koffer.http(portal_token) as c:
        items = c.get(f"/v1/records/{rid}/attachments").json()["items"]
        assert len(items) == 4
        photo = next(a for a in items if a["purpose"] == "photo")
        r = c.get(f"/v1/records/{rid}/attachments/{photo['id']}")
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert images["photo"][:64] not in r.content
    assert koffer.hub.attachments.read(rid, photo["id"]) == images["photo"]
