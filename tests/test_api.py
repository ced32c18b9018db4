"""The HTTP API against a real uvicorn server on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import APIRouter
from starlette.requests import Request

import hub
from hub.core.plugins import PluginManager
from hub.testing import LiveHub, sample_submission, wait_until

from .conftest import OTHER_TOKEN, READ_TOKEN, TOKEN

ANMELDUNG_SCHEMA = {
    "type": "object",
    "required": ["moving_in_date"],
    "properties": {
        "moving_in_date": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    },
}


class ExamplePlugin:
    """Uses every intake-side hook the way a vendor plugin would."""

    @hub.hookimpl
    def register_payload_schemas(self, register: Any) -> None:
        register("99115005*", ANMELDUNG_SCHEMA)

    @hub.hookimpl
    def register_enrichers(self, register: Any) -> None:
        def name_service(record: hub.Record, ctx: hub.EnrichContext) -> None:
            if record.service.leika_key == "99115005104000":
                record.service.name = "Anmeldung einer Wohnung"
            if record.service.leika_key.startswith("99999"):
                raise hub.IntakeRejected.one(
                    "service.leika_key", "catalogue", "unknown Leistungsschlüssel"
                )

        register("namer", name_service)

    @hub.hookimpl
    def register_identity_providers(self, register: Any) -> None:
        class Session:
            def identify(self, request: Request) -> hub.IdentityClaim | None:
                if request.headers.get("x-test-session") != "erika":
                    return None
                return hub.IdentityClaim(
                    identity=hub.Identity(
                        method="bundid",
                        trust_level="substantiell",
                        bpk2="k2jBT0cykDVqiKWia1VMzqmntTu-EwGskIYlcCIGt_8",
                    ),
                    applicant={"given_names": "Erika", "family_name": "Gabler"},
                )

        register("session", Session())

    @hub.hookimpl
    def register_routes(self, register: Any, hub: Any) -> None:
        router = APIRouter()

        @router.get("/v1/example/ping")
        def ping() -> dict[str, str]:
            return {"pong": hub.store.dialect}

        register(router)
        streaming = APIRouter(prefix="/v1/example-stream")
        streaming.streams_request_bodies = True  # type: ignore[attr-defined]

        @streaming.put("/blob")
        async def blob(request: Request) -> dict[str, int]:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
            return {"size": size}

        register(streaming)


@pytest.fixture
def live(make_config, store_url):
    pm = PluginManager()
    pm.register(ExamplePlugin(), name="example")
    with LiveHub(make_config(store_url), pm) as server:
        yield server


def count(live: LiveHub) -> int:
    return sum(live.hub.store.count_by_status().values())


def post(client, body: Any, **headers: str):
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(
        "/v1/records", content=content, headers={"Content-Type": "application/json", **headers}
    )


def test_accept_is_durable_and_delivered(live: LiveHub, tmp_path) -> None:
    with live.client(TOKEN) as c:
        r = post(c, sample_submission())
        assert r.status_code == 202
        body = r.json()
        assert r.headers["location"] == f"/v1/records/{body['id']}"
        assert body["status"] == "accepted"
        # Committed before the answer: visible at once through the store.
        assert live.hub.store.get_record(body["id"]) is not None
        assert wait_until(lambda: c.get(r.headers["location"]).json()["status"] == "delivered")
        rec = c.get(r.headers["location"]).json()
    assert rec["service"]["name"] == "Anmeldung einer Wohnung"  # enricher ran
    assert rec["deliveries"][0]["adapter"] == "file"
    assert [(h["status"], h["adapter"]) for h in rec["history"]] == [
        ("accepted", None),
        ("delivering", "file"),
        ("delivering", None),
        ("delivered", "file"),
        ("delivered", None),
    ]
    assert (tmp_path / "outbox" / f"{body['id']}.json").is_file()


@pytest.mark.parametrize(
    ("mutate", "status", "field", "rule"),
    [
        (
            lambda d: d["service"].update(leika_key="9911500510400"),
            422,
            "service.leika_key",
            "string_pattern_mismatch",
        ),
        (lambda d: d.update(unknown=1), 422, "unknown", "extra_forbidden"),
        (
            lambda d: d["applicant"].update(nickname="Eri"),
            422,
            "applicant.nickname",
            "extra_forbidden",
        ),
        (lambda d: d.update(channel="fax"), 422, "channel", "enum"),
        (
            lambda d: d["municipality"].update(ars="05111"),
            422,
            "municipality.ars",
            "string_pattern_mismatch",
        ),
        (
            lambda d: d["applicant"]["identity"].update(trust_level="mittel"),
            422,
            "applicant.identity.trust_level",
            "enum",
        ),
        (lambda d: d.update(payload={}), 422, "payload", "schema:required"),
        (
            lambda d: d.update(payload={"moving_in_date": 20261101}),
            422,
            "payload.moving_in_date",
            "schema:type",
        ),
        (
            lambda d: d["service"].update(leika_key="99999000000000"),
            422,
            "service.leika_key",
            "catalogue",
        ),
        (
            lambda d: d["municipality"].update(ars="053150000000"),
            403,
            "municipality.ars",
            "client_municipality",
        ),
        (
            lambda d: d["applicant"].update(family_name="Muster\x00mann"),
            422,
            "applicant.family_name",
            "string_pattern_mismatch",
        ),
    ],
)
def test_bad_input_names_field_and_rule_and_stores_nothing(live, mutate, status, field, rule):
    data = sample_submission()
    mutate(data)
    with live.client(TOKEN) as c:
        r = post(c, data)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status
    assert {"field": field, "rule": rule} in [
        {"field": e["field"], "rule": e["rule"]} for e in problem["errors"]
    ]
    assert count(live) == 0


@pytest.mark.parametrize(
    ("content", "ctype", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 422),
        (b"", "application/json", 400),
        (b"a=b", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_bodies(live, content, ctype, status) -> None:
    with live.client(TOKEN) as c:
        r = c.post("/v1/records", content=content, headers={"Content-Type": ctype})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert count(live) == 0


def test_streaming_plugin_routes_bring_their_own_body_limit(live) -> None:
    big = b"x" * (live.hub.config.server.max_body_bytes + 1)
    with live.client(TOKEN) as c:
        assert c.put("/v1/example-stream/blob", content=big).json() == {"size": len(big)}
        assert c.post("/v1/records", content=big).status_code == 413  # everywhere else: limited


def test_oversized_body_is_refused_before_parsing(live) -> None:
    huge = sample_submission(payload={"moving_in_date": "2026-11-01", "x": "a" * 3_000_000})
    with live.client(TOKEN) as c:
        r = post(c, huge)
    assert r.status_code == 413
    assert r.json()["title"] == "Request body too large"
    assert count(live) == 0


def test_authentication_and_scopes(live) -> None:
    with live.client() as anon:
        r = post(anon, sample_submission())
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    with live.client("wrong-token") as c:
        assert post(c, sample_submission()).status_code == 401
    with live.client(READ_TOKEN) as c:
        r = post(c, sample_submission())
        assert r.status_code == 403 and "records:write" in r.json()["title"]
    assert count(live) == 0


def test_idempotency_key(live) -> None:
    data = sample_submission()
    with live.client(TOKEN) as c:
        a = post(c, data, **{"Idempotency-Key": "portal-4711"})
        # Same body with other key order and spacing: the same record.
        b = post(
            c, json.dumps(data, indent=3, sort_keys=True), **{"Idempotency-Key": "portal-4711"}
        )
        assert a.status_code == b.status_code == 202
        assert a.json()["id"] == b.json()["id"]
        assert b.headers["idempotent-replayed"] == "true"
        data["payload"]["moving_in_date"] = "2026-12-01"
        c2 = post(c, data, **{"Idempotency-Key": "portal-4711"})
        assert c2.status_code == 409
        assert c2.json()["errors"][0]["rule"] == "idempotency_reuse"
    assert count(live) == 1


def test_identity_provider_claim_replaces_applicant(live) -> None:
    with live.client(TOKEN) as c:
        r = post(c, sample_submission(), **{"X-Test-Session": "erika"})
        rec = c.get(f"/v1/records/{r.json()['id']}").json()
    assert rec["applicant"]["family_name"] == "Gabler"
    assert rec["applicant"]["identity"] == {
        "method": "bundid",
        "trust_level": "substantiell",
        "bpk2": "k2jBT0cykDVqiKWia1VMzqmntTu-EwGskIYlcCIGt_8",
        "mailbox_uuid": None,
        "application_id": None,
    }


def test_records_are_visible_only_to_clients_of_their_municipality(live) -> None:
    with live.client(TOKEN) as c:
        rid = post(c, sample_submission()).json()["id"]
    with live.client(OTHER_TOKEN) as other:
        assert other.get(f"/v1/records/{rid}").status_code == 404
        assert other.get("/v1/records").json()["items"] == []
    with live.client(READ_TOKEN) as reader:
        assert reader.get(f"/v1/records/{rid}").status_code == 200
        assert reader.post(f"/v1/records/{rid}/retry").status_code == 403


def test_list_with_status_filter_and_cursor(live) -> None:
    with live.client(TOKEN) as c:
        ids = {post(c, sample_submission()).json()["id"] for _ in range(5)}
        assert wait_until(lambda: len(c.get("/v1/records?status=delivered").json()["items"]) == 5)
        page = c.get("/v1/records?limit=3").json()
        rest = c.get(f"/v1/records?limit=3&cursor={page['next']}").json()
        assert {i["id"] for i in page["items"] + rest["items"]} == ids
        assert rest["next"] is None
        assert c.get("/v1/records?status=dead_letter").json()["items"] == []
        bad = c.get("/v1/records?status=bogus")
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "query.status"
        assert c.get("/v1/records?cursor=zzz").status_code == 400


def test_list_filters_by_channel_service_municipality_adapter_and_time(live) -> None:
    from datetime import UTC, datetime, timedelta

    with live.client(TOKEN) as c:
        portal = post(c, sample_submission(channel="portal")).json()["id"]
        koffer = post(
            c,
            sample_submission(
                channel="koffer",
                service={"leika_key": "99102013104000"},
                municipality={"ars": "051110001001"},
            ),
        ).json()["id"]

        def ids(**params: str) -> set[str]:
            r = c.get("/v1/records", params=params)
            assert r.status_code == 200, r.text
            return {i["id"] for i in r.json()["items"]}

        assert ids(channel="koffer") == {koffer}
        assert ids(leika="99115*") == {portal}
        assert ids(leika="99102013104000") == {koffer}
        assert ids(ars="0511100010*") == {koffer}
        assert ids(adapter="file") == {portal, koffer} and ids(adapter="nowhere") == set()
        later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        assert ids(**{"from": earlier}) == {portal, koffer} and ids(**{"from": later}) == set()
        assert ids(to=earlier) == set()
        naive = c.get("/v1/records", params={"from": "2026-01-01T00:00:00"})
        assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "from"
        bad = c.get("/v1/records", params={"leika": "99x"})
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "query.leika"


def test_retry_endpoint(live) -> None:
    with live.client(TOKEN) as c:
        rid = post(c, sample_submission()).json()["id"]
        assert wait_until(lambda: c.get(f"/v1/records/{rid}").json()["status"] == "delivered")
        r = c.post(f"/v1/records/{rid}/retry")
        assert r.status_code == 409
        assert c.post("/v1/records/00000000-0000-0000-0000-000000000000/retry").status_code == 404


def test_health_metrics_openapi_and_plugin_routes(live) -> None:
    with live.client(TOKEN) as c:
        post(c, sample_submission())
        assert c.get("/livez").json() == {"status": "alive"}
        assert c.get("/readyz").json() == {"status": "ready"}
        assert wait_until(
            lambda: 'hub_deliveries_delivered_total{adapter="file"} 1.0' in c.get("/metrics").text
        )
        metrics = c.get("/metrics").text
        assert 'hub_records_accepted_total{channel="koffer"} 1.0' in metrics
        assert 'hub_delivery_latency_seconds_count{adapter="file"} 1.0' in metrics
        assert 'hub_records{status="delivered"} 1.0' in metrics
        spec = c.get("/openapi.json").json()
        assert "/v1/records" in spec["paths"] and "/v1/example/ping" in spec["paths"]
        assert "Submission" in spec["components"]["schemas"]
        assert c.get("/v1/example/ping").json() == {"pong": live.hub.store.dialect}
