"""Tenants see only their municipalities' records; JSON is taken as RFC 8259 has it; XML
declarations of DTDs are refused whatever the encoding."""

from __future__ import annotations

import json
from typing import Any

import pytest

import hub
from hub.core.xmlsafe import XmlRejected, parse_xml
from hub.testing import LiveHub, sample_submission, wait_until

from .conftest import READ_TOKEN, TOKEN


class RefusingBackend:
    """An adapter whose backend refuses everything: every record is dead-lettered."""

    @hub.hookimpl
    def register_adapters(self, register: Any) -> None:
        class Refuse:
            def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> None:
                raise hub.PermanentError(f"refused record of {record.municipality.ars}")

        register("refuse", lambda settings, h: Refuse())


@pytest.fixture
def refusing(make_config, plugins):
    plugins.register(RefusingBackend(), name="refusing")
    config = make_config(adapters={"refuse": {}}, routes=[{"adapters": ["refuse"]}])
    # an admin of all municipalities, beside the conftest's admin of 05111*
    config.clients.append(
        config.clients[0].model_copy(
            update={"name": "state-admin", "token_sha256": _sha("state-admin-token-0123")}
        )
    )
    config.clients[-1].municipalities = ["*"]
    with LiveHub(config, plugins) as live:
        yield live


@pytest.fixture
def live(make_config):
    with LiveHub(make_config()) as server:
        yield server


def _sha(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def test_dead_letters_show_an_admin_only_their_municipalities(refusing) -> None:
    ours = sample_submission(municipality={"ars": "051110000000"})
    theirs = sample_submission(municipality={"ars": "053150000000"})
    with refusing.client("state-admin-token-0123") as state:
        ids = [state.post("/v1/records", json=s).json()["id"] for s in (ours, theirs)]
        assert wait_until(lambda: len(state.get("/v1/dead-letters").json()["items"]) == 2)
    with refusing.client(TOKEN) as admin:  # admin scope, municipalities 05111*
        items = admin.get("/v1/dead-letters").json()["items"]
        assert [i["record_id"] for i in items] == [ids[0]]
        assert "053150000000" not in json.dumps(items)
        assert admin.post(f"/v1/records/{ids[1]}/retry").status_code == 404
        assert admin.get(f"/v1/records/{ids[1]}").status_code == 404
        listed = admin.get("/v1/records").json()["items"]
        assert [r["id"] for r in listed] == [ids[0]]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_json_does_not_have_are_refused_with_field_and_rule(live, number) -> None:
    body = json.dumps(sample_submission())[:-1] + f', "payload": {{"a": [1, {{"b": {number}}}]}}}}'
    with live.client(TOKEN) as c:
        r = c.post("/v1/records", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        [error] = r.json()["errors"]
        assert error["field"] == "payload.a[1].b" and error["rule"] == "json_finite_number"
    with live.client(READ_TOKEN) as reader:
        assert reader.get("/v1/records").json()["items"] == []  # nothing stored


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_dtd_is_refused_in_any_encoding(encoding) -> None:
    declared = encoding.upper()
    doc = f'<?xml version="1.0" encoding="{declared}"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'
    with pytest.raises(XmlRejected) as refused:
        parse_xml(doc.encode(encoding), max_bytes=10_000)
    assert refused.value.code == "dtd_forbidden"
    plain = f'<?xml version="1.0" encoding="{declared}"?><r>fine</r>'
    assert parse_xml(plain.encode(encoding), max_bytes=10_000).text == "fine"
