"""The plugin at work in a live hub: intake validation and enrichment, HTTP routes, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from pvog_recordings import KEY, KOELN, answer_fully

from hub.testing import CliState, LiveHub, PluginManager, build_cli, sample_submission, wait_until
from hub_ozg_catalog.importers import read_leika_csv, read_regions, read_xzufi
from hub_ozg_catalog.plugin import state

PVOG_ONLY = pytest.mark.httpx_mock(should_mock=lambda request: request.url.host == "pvog.test")


@pytest.fixture
def live(
    tmp_path: Path,
    leika_csv: Path,
    regions_json: Path,
    fixtures_dir: Path,
    request,
    catalog_config,
    token,
):
    make_config = catalog_config
    settings = getattr(request, "param", {})
    with LiveHub(
        make_config(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path, **settings), PluginManager()
    ) as server:
        cat = state(server.hub).catalogue
        cat.replace_services(read_leika_csv(leika_csv)[1], "kdn:test")
        cat.replace_regions(read_regions(regions_json))
        cat.replace_authorities(read_xzufi(fixtures_dir / "xzufi_duesseldorf.xml")[1])
        server.token = token  # type: ignore[attr-defined]
        yield server


def client(live: LiveHub) -> httpx.Client:
    return live.client(live.token)  # type: ignore[attr-defined]


def count(live: LiveHub) -> int:
    return sum(live.hub.store.count_by_status().values())


@pytest.mark.parametrize("live", [{"pvog_enabled": False}], indirect=True)
def test_records_are_enriched_from_the_catalogue(live) -> None:
    with client(live) as c:
        r = c.post("/v1/records", json=sample_submission())
        assert r.status_code == 202, r.text
        rec = c.get(r.headers["location"]).json()
    assert rec["service"] == {
        "leika_key": "99115005104000",
        "name": "Wohnsitz Anmeldung",
        "ozg_id": "10124",
        "ozg_topic": "Bauen & Wohnen",  # the OZG-Themenfeld
    }
    assert rec["municipality"]["name"] == "Düsseldorf, Stadt"
    assert rec["authority"]["name"] == "Bürgerbüro Düsseldorf-Mitte"
    assert rec["authority"]["source"] == "offline"
    assert rec["authority"]["address"]["postal_code"] == "40213"


@pytest.mark.parametrize("live", [{"pvog_enabled": False}], indirect=True)
@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (
            lambda d: d["service"].update(leika_key="99999999999999"),
            "service.leika_key",
            "catalogue_existence",
        ),
        (
            lambda d: d["municipality"].update(ars="059990000000"),
            "municipality.ars",
            "region_existence",
        ),
        (
            lambda d: d["municipality"].update(ars="171110000000"),
            "municipality.ars",
            "ars_structure",
        ),
    ],
)
def test_unknown_keys_and_places_are_refused(live, mutate, field, rule) -> None:
    data = sample_submission()
    mutate(data)
    with client(live) as c:
        r = c.post("/v1/records", json=data)
    assert r.status_code == 422
    assert {"field": field, "rule": rule} == {
        k: r.json()["errors"][0][k] for k in ("field", "rule")
    }
    assert count(live) == 0


@PVOG_ONLY
@pytest.mark.parametrize("live", [{"pvog_enabled": True, "retries": 0}], indirect=True)
def test_pvog_down_never_blocks_intake(live, httpx_mock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), is_reusable=True)
    data = sample_submission(municipality={"ars": "053150000000"})  # Köln: not offline
    with client(live) as c:
        r = c.post("/v1/records", json=data)
        assert r.status_code == 202
        rec = c.get(r.headers["location"]).json()
    assert rec["authority"] is None and rec["municipality"]["name"] == "Köln, Stadt"
    assert wait_until(httpx_mock.get_requests, 10)  # asked in the background, after the commit
    assert state(live.hub).intake.pending() == 0  # tried; a later record queues it again


@PVOG_ONLY
@pytest.mark.parametrize(
    "live", [{"pvog_enabled": True, "retries": 0, "intake_memo_seconds": 0}], indirect=True
)
def test_intake_never_waits_for_pvog_and_later_records_get_its_answer(
    live, httpx_mock, fixtures_dir
) -> None:
    answer_fully(httpx_mock, fixtures_dir)
    data = sample_submission(municipality={"ars": KOELN})
    with client(live) as c:
        first = c.post("/v1/records", json=data)
        assert first.status_code == 202
        assert c.get(first.headers["location"]).json()["authority"] is None
        assert wait_until(lambda: len(httpx_mock.get_requests()) == 3, 10)
        assert wait_until(lambda: state(live.hub).catalogue.cache_get(KEY, KOELN), 10)
        later = c.post("/v1/records", json=sample_submission(municipality={"ars": KOELN}))
        authority = c.get(later.headers["location"]).json()["authority"]
    assert authority["name"] == "Kundenzentrum Köln-Innenstadt"
    assert authority["source"] == "cache"
    assert len(httpx_mock.get_requests()) == 3  # the later record did not ask again


@PVOG_ONLY
@pytest.mark.parametrize("live", [{"pvog_enabled": True, "retries": 0}], indirect=True)
def test_http_routes(live, httpx_mock, fixtures_dir) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), is_reusable=True)
    with client(live) as c:
        found = c.get("/v1/catalog/search", params={"q": "Wohnung ummelden", "limit": 3}).json()
        assert found["items"][0]["key"] in {"99115005104000", "99115005011000"}
        assert set(found["items"][0]) == {"key", "name", "ozg_id", "score"}
        svc = c.get("/v1/catalog/services/99008001012000").json()
        assert svc["name"] == "Personalausweis Ausstellung" and svc["ozg_id"] == "10119"
        assert c.get("/v1/catalog/services/99999999999999").status_code == 404
        bad = c.get("/v1/catalog/services/123")
        assert bad.status_code == 400 and bad.json()["errors"][0]["rule"] == "leika_structure"
        region = c.get("/v1/catalog/regions/05554004").json()
        assert region["ars"] == "055540004004" and region["name"] == "Ahaus, Stadt"
        offline = c.get(
            "/v1/catalog/authority", params={"leika": "99115005104000", "ars": "051110000000"}
        ).json()
        assert offline["source"] == "offline" and offline["found"] is True
        down = c.get(
            "/v1/catalog/authority", params={"leika": "99115005104000", "ars": "053150000000"}
        )
        assert down.status_code == 503 and down.headers["content-type"].startswith(
            "application/problem+json"
        )
    with live.client() as anonymous:
        assert anonymous.get("/v1/catalog/search", params={"q": "Perso"}).status_code == 401


def test_cli_commands(tmp_path: Path, leika_csv: Path, regions_json: Path, fixtures_dir) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "hub.db"}"\n'
        "[plugins.ozg_catalog]\npvog_enabled = false\n"
    )
    plugins = PluginManager()
    cli = build_cli(plugins)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, ["--config", str(config), *args], obj=CliState(None, plugins))

    imported = run("catalog", "import", str(leika_csv))
    assert imported.exit_code == 0 and "imported 4813 services (kdn layout)" in imported.output
    assert "imported 11236 regions" in run("regions", "import", str(regions_json)).output
    assert (
        "imported 4 responsibilities (XZuFi 2.2)"
        in run("catalog", "import-xzufi", str(fixtures_dir / "xzufi_duesseldorf.xml")).output
    )
    hits = json.loads(run("catalog", "search", "Hund anmelden", "--json", "--limit", "3").output)
    assert len(hits) == 3 and any(h["key"].startswith(("99102013", "99110009")) for h in hits)
    shown = run("catalog", "show", "99115005104001")
    assert "LOVD" in shown.output and "Wohnsitz Anmeldung als Hauptwohnsitz" in shown.output
    who = json.loads(
        run("catalog", "authority", "99008001012000", "--ars", "051110000000", "--json").output
    )
    assert who["authority"]["name"] == "Bürgerbüro Düsseldorf-Mitte"
    unknown = run("catalog", "authority", "99008001012000", "--ars", "053150000000")
    assert unknown.exit_code == 1 and "no responsible authority known" in unknown.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    refused = run("catalog", "import", str(bad))
    assert refused.exit_code == 1 and "unknown CSV layout" in refused.output
    assert "4813" not in run("catalog", "show", "99115005104000").output  # still the old import
    assert run("catalog", "show", "12").exit_code == 1
