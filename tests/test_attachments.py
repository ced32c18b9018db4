"""Attachments added to records after intake: content-addressed files plus rows in the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError

import hub
from hub.core.attachments import UnknownAttachment
from hub.core.hub import Hub
from hub.testing import LiveHub, sample_submission

from .conftest import OTHER_TOKEN, TOKEN

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 300


@pytest.fixture
def h(make_config, store_url):
    hub_ = Hub(make_config(store_url))
    hub_.start()
    yield hub_
    hub_.close()


def new_record(h: Hub) -> str:
    return h.intake.submit(
        hub.Submission.model_validate(sample_submission()), client="portal"
    ).record_id


def test_add_streams_hashes_and_is_idempotent(h: Hub) -> None:
    rid = new_record(h)
    chunks = [PDF[:1000], PDF[1000:50000], PDF[50000:]]
    a = h.attachments.add(
        rid,
        "meldebestaetigung-1",
        purpose="confirmation",
        media_type="application/pdf",
        data=iter(chunks),
        source="xmeld",
    )
    assert a.size == len(PDF)
    assert a.sha256 == hashlib.sha256(PDF).hexdigest()
    assert h.attachments.read(rid, "meldebestaetigung-1") == PDF
    again = h.attachments.add(
        rid,
        "meldebestaetigung-1",
        purpose="confirmation",
        media_type="application/pdf",
        data=b"something else",
    )
    assert again == a
    assert [x.id for x in h.attachments.list(rid)] == ["meldebestaetigung-1"]
    leftovers = [p for p in Path(h.attachments.directory).iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_same_content_is_kept_once_and_deleted_with_its_last_reference(h: Hub) -> None:
    one, two = new_record(h), new_record(h)
    for rid in (one, two):
        h.attachments.add(
            rid, "doc", purpose="confirmation", media_type="application/pdf", data=PDF
        )
    files = [p for p in Path(h.attachments.directory).rglob("*") if p.is_file()]
    assert len(files) == 1
    h.attachments.delete(one, "doc")
    assert files[0].exists()
    with pytest.raises(UnknownAttachment):
        h.attachments.read(one, "doc")
    h.attachments.delete(two, "doc")
    assert not files[0].exists()


def test_unknown_record_and_bad_names_change_nothing(h: Hub) -> None:
    with pytest.raises(KeyError):
        h.attachments.add(
            "00000000-0000-0000-0000-000000000000",
            "doc",
            purpose="x",
            media_type="application/pdf",
            data=PDF,
        )
    rid = new_record(h)
    with pytest.raises(ValidationError) as err:
        h.attachments.add(rid, "../../etc/passwd", purpose="x", media_type="text/plain", data=b"x")
    assert "id" in str(err.value)
    assert h.attachments.list(rid) == []


def test_api_lists_and_serves_attachments(make_config, store_url) -> None:
    with LiveHub(make_config(store_url)) as live:
        rid = new_record(live.hub)
        live.hub.attachments.add(
            rid,
            "meldebestaetigung",
            purpose="confirmation",
            media_type="application/pdf",
            data=PDF,
        )
        with live.client(TOKEN) as c:
            listed = c.get(f"/v1/records/{rid}/attachments").json()["items"]
            assert [(a["id"], a["size"]) for a in listed] == [("meldebestaetigung", len(PDF))]
            r = c.get(f"/v1/records/{rid}/attachments/meldebestaetigung")
            assert r.status_code == 200
            assert r.content == PDF
            assert r.headers["content-type"] == "application/pdf"
            assert r.headers["repr-digest"].startswith("sha-256=:")
            missing = c.get(f"/v1/records/{rid}/attachments/nope")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
        with live.client(OTHER_TOKEN) as c:  # another municipality's client sees nothing
            assert c.get(f"/v1/records/{rid}/attachments").status_code == 404
