"""Passport/ID-card applications from a koffer: accepted only on complete, intact, genuine
uploads; wrong things get 422 naming the attachment and the rule."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

CASE = "case-appl-0001"
ARS = "051110000000"


def post(koffer, body, token=None, **headers):
    with koffer.http(token) as c:
        return c.post("/v1/koffer/applications", json=body, headers=headers)


def test_a_complete_application_is_accepted(koffer, images) -> None:
    body = koffer.application(CASE, images)
    r = post(koffer, body, **{"Idempotency-Key": "appl-1"})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    record = koffer.hub.store.get_record(rid)
    assert record.channel.value == "koffer"
    assert record.location.device_id == "koffer-07"
    assert record.location.name == "Seniorenheim Am Park"
    assert [a.purpose for a in record.attachments] == [
        "photo",
        "fingerprint",
        "fingerprint",
        "signature",
    ]
    assert koffer.store.record_of_case(CASE) == rid
    again = post(koffer, body, **{"Idempotency-Key": "appl-1"})  # LTE dropped: sent again
    assert again.json()["id"] == rid
    with koffer.http() as c:  # the device may ask where its application stands
        status = c.get(f"/v1/koffer/applications/{rid}").json()
    assert status["status"] in ("accepted", "delivering", "delivered")


def test_jpeg2000_photo_and_png_fingerprints_are_fine(koffer, images) -> None:
    body = koffer.application(CASE, images)
    for index, (purpose, key, media) in {
        0: ("photo", "photo_jp2", "image/jp2"),
        1: ("fingerprint", "fingerprint_png", "image/png"),
    }.items():
        data = images[key]
        body["attachments"][index] = {
            "id": koffer.upload(data, purpose, CASE),
            "purpose": purpose,
            "media_type": media,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    r = post(koffer, body)
    assert r.status_code == 202, r.text


def replace(koffer, body, index: int, data: bytes, media_type: str, purpose: str | None = None):
    purpose = purpose or body["attachments"][index]["purpose"]
    body["attachments"][index] = {
        "id": koffer.upload(data, purpose, CASE),
        "purpose": purpose,
        "media_type": media_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@pytest.mark.parametrize(
    ("index", "image", "media_type", "rule"),
    [
        (0, "landscape", "image/jpeg", "portrait"),
        (0, "small", "image/jpeg", "resolution"),
        (0, "square", "image/jpeg", "aspect_ratio"),
        (0, "signature", "image/png", "format"),  # a PNG is no passport photo
        (1, "photo", "image/jpeg", "format"),  # a JPEG is no fingerprint
        (3, "photo", "image/jpeg", "format"),  # nor a signature
        (0, "photo_jp2", "image/jpeg", "media_type"),  # declared JPEG, is JPEG 2000
    ],
)
def test_attachments_are_judged_by_their_bytes(koffer, images, index, image, media_type, rule):
    body = koffer.application(CASE, images)
    replace(koffer, body, index, images[image], media_type)
    r = post(koffer, body)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == f"attachments[{index}]" and error["rule"] == rule
    assert body["attachments"][index]["id"] in error["message"]
    assert koffer.hub.store.list_records() == []


def test_references_must_be_complete_matching_uploads_of_this_device(koffer, images) -> None:
    body = koffer.application(CASE, images)
    photo = body["attachments"][0]
    # Size/hash not those of the upload
    body["attachments"][0] = {**photo, "sha256": "0" * 64}
    assert post(koffer, body).json()["errors"][0]["rule"] == "sha256"
    # An upload that is not finished
    with koffer.http() as c:
        r = c.post(
            "/v1/koffer/uploads",
            headers={
                "Upload-Length": "100",
                "Upload-Metadata": "purpose cGhvdG8=,case "
                + base64.b64encode(CASE.encode()).decode(),
            },
        )
    partial = r.headers["location"].rsplit("/", 1)[-1]
    body["attachments"][0] = {**photo, "id": partial}
    assert post(koffer, body).json()["errors"][0]["rule"] == "complete"
    # Another device's upload
    other = koffer.store.register("koffer-08", ARS)
    body["attachments"][0] = photo
    r = post(koffer, body, token=other)
    assert {e["rule"] for e in r.json()["errors"]} == {"upload"}
    # A fingerprint missing
    body["attachments"] = body["attachments"][:2] + body["attachments"][3:]
    errors = post(koffer, body).json()["errors"]
    assert errors == [
        {
            "field": "attachments",
            "rule": "required",
            "message": "needs 2 fingerprint attachment(s), has 1",
        }
    ]
    # Uploads of two cases in one application
    body = koffer.application(CASE, images)
    replace(koffer, body, 3, images["signature"], "image/png")
    body["attachments"][3]["id"] = koffer.upload(images["signature"], "signature", "case-other-01")
    assert post(koffer, body).json()["errors"][0]["rule"] == "one_case"
    assert koffer.hub.store.list_records() == []


def test_a_device_submits_for_its_own_municipality_only(koffer, images) -> None:
    body = koffer.application(CASE, images, municipality={"ars": "053150000000"})
    r = post(koffer, body)
    assert r.status_code == 403
    assert r.json()["errors"][0]["rule"] == "device_municipality"
    body = koffer.application(CASE, images, location={"name": "Markt", "device_id": "koffer-99"})
    assert post(koffer, body).json()["errors"][0]["field"] == "location.device_id"
    assert post(koffer, body, token="koffer_unknown").status_code == 401


def test_other_clients_cannot_pass_off_a_koffer_application(koffer, images, portal_token):
    body = {**koffer.application(CASE, images), "channel": "koffer"}
    with koffer.live.client(portal_token) as c:  # a portal client, not a device
        r = c.post("/v1/records", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "device"


@pytest.mark.parametrize(
    ("body", "status", "field", "rule"),
    [
        ({"municipality": "x"}, 422, "municipality", "model_type"),
        ({"location": [1, 2]}, 422, "location", "model_type"),
        ({"payload": {"n": float("nan")}}, 400, "(body)", "json_finite_number"),
    ],
)
def test_wrong_types_get_field_and_rule_not_a_500(koffer, images, body, status, field, rule):
    application = {**koffer.application(CASE, images), **body}
    with koffer.http() as c:
        r = c.post(
            "/v1/koffer/applications",
            content=json.dumps(application),  # NaN as Python writes it
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == status, r.text
    assert {"field": field, "rule": rule} in [
        {"field": e["field"], "rule": e["rule"]} for e in r.json()["errors"]
    ]
    assert koffer.hub.store.list_records() == []


def test_deep_nesting_and_non_objects_are_bad_requests(koffer) -> None:
    with koffer.http() as c:
        deep = c.post(
            "/v1/koffer/applications",
            content="[" * 100_000 + "]" * 100_000,
            headers={"Content-Type": "application/json"},
        )
        listed = c.post("/v1/koffer/applications", json=[1, 2])
    assert deep.status_code == 400 and deep.json()["errors"][0]["field"] == "(body)"
    assert listed.status_code == 400 and listed.json()["errors"][0]["rule"] == "type"


def test_a_device_cannot_bind_another_devices_upload_whatever_the_service(koffer, images):
    # Another municipality's koffer uploads a photo of its case ...
    theirs = koffer.store.register("koffer-dortmund", "059130000000")
    other = type(koffer)(koffer.live, theirs)
    foreign = other.upload(images["photo"], "photo", "case-dortmund-1")
    # ... and our device names it in an application for a service without identity checks.
    body = {
        "service": {"leika_key": "99050012104000"},
        "municipality": {"ars": ARS},
        "attachments": [
            {
                "id": foreign,
                "purpose": "photo",
                "media_type": "image/jpeg",
                "size": len(images["photo"]),
                "sha256": hashlib.sha256(images["photo"]).hexdigest(),
            }
        ],
    }
    r = post(koffer, body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0] == {
        "field": "attachments[0]",
        "rule": "upload",
        "message": f"photo {foreign}: no such upload of this device",
    }
    assert koffer.hub.store.list_records() == []
    assert koffer.store.record_of_case(koffer.store.get(foreign).case_id) is None


def test_installed_but_not_configured_it_leaves_koffer_records_alone(tmp_path) -> None:
    """Without [plugins.bundesdruckerei] a koffer's passport record is handled as if the plugin
    were not installed (another connector may take it)."""
    from hub.testing import LiveHub, hub_config, sample_submission

    token = "unconfigured-koffer-token"
    config = hub_config(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "out", token)
    body = sample_submission(channel="koffer", service={"leika_key": "99008001012000"})
    with LiveHub(config) as live, live.client(token) as c:
        r = c.post("/v1/records", json=body)
    assert r.status_code == 202, r.text
