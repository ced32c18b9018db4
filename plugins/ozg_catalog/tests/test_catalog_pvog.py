"""Responsible authority through PVOG: walk-up, caching, stale answers, 429s and outages.

PVOG is replaced by pytest-httpx with payloads shaped like the live Suchdienst responses as
public clients consume them (tests/fixtures/pvog/)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from pvog_recordings import BASE, KEY, KOELN, answer_fully, leikaid
from sqlalchemy import update

from hub_ozg_catalog import tables
from hub_ozg_catalog.authority import AuthorityUnavailable
from hub_ozg_catalog.plugin import state


def test_pvog_lookup_picks_the_zustaendige_stelle(httpx_mock, hub_factory, fixtures_dir) -> None:
    answer_fully(httpx_mock, fixtures_dir)
    result = state(hub_factory()).resolver.resolve(KEY, KOELN)
    assert result.found and result.source == "pvog" and not result.stale
    assert result.authority == {
        "id": "L100002.OE.3315020",
        "name": "Kundenzentrum Köln-Innenstadt",
        "role": "01",
        "address": {"street": "Laurenzplatz 4", "postal_code": "50667", "city": "Köln"},
        "phone": "0221 221-0",
        "email": "kundenzentrum-innenstadt@stadt-koeln.example",
        "url": "https://www.stadt-koeln.example/kundenzentren",
    }
    ua = httpx_mock.get_requests()[0].headers["user-agent"]
    assert ua.startswith("hub-ozg-catalog/")


def test_walks_up_from_gemeinde_to_kreis(httpx_mock, hub_factory, fixtures_dir) -> None:
    ahaus, kreis = "055540004004", "055540000000"
    leikaid(httpx_mock, fixtures_dir, ahaus, found=False)
    answer_fully(httpx_mock, fixtures_dir, ars=kreis)
    result = state(hub_factory()).resolver.resolve(KEY, ahaus)
    assert result.found and result.level_ars == kreis


def test_nothing_anywhere_is_a_cached_not_found(httpx_mock, hub_factory, fixtures_dir) -> None:
    for ars in (KOELN, "050000000000", "000000000000"):
        leikaid(httpx_mock, fixtures_dir, ars, found=False)
    st = state(hub_factory())
    assert st.resolver.resolve(KEY, KOELN).found is False
    again = st.resolver.resolve(KEY, KOELN)  # negative cache: no further requests
    assert again.found is False and again.source == "cache"
    assert len(httpx_mock.get_requests()) == 3


def test_cache_hit_then_stale_when_pvog_fails(httpx_mock, hub_factory, fixtures_dir) -> None:
    answer_fully(httpx_mock, fixtures_dir)
    h = hub_factory(cache_ttl_seconds=3600, retries=0)
    st = state(h)
    first = st.resolver.resolve(KEY, KOELN)
    cached = st.resolver.resolve(KEY, KOELN)
    assert cached.source == "cache" and cached.authority == first.authority
    assert len(httpx_mock.get_requests()) == 3
    # Age the entry past its TTL, then PVOG goes down: the old answer is served, marked stale.
    aged = first_fetched(h) - timedelta(days=2)
    with h.store.transaction() as conn:
        conn.execute(update(tables.authority_cache).values(fetched_at=aged))
    httpx_mock.add_response(
        url=f"{BASE}/v3/servicedescriptions/leikaid",
        status_code=503,
        match_params={"leikaIds": KEY, "ars": KOELN, "validDate": date.today().isoformat()},
    )
    stale = st.resolver.resolve(KEY, KOELN)
    assert stale.found and stale.stale and stale.authority == first.authority


def first_fetched(h):
    from sqlalchemy import select

    with h.store.reading() as conn:
        return conn.execute(select(tables.authority_cache.c.fetched_at)).scalar_one()


def test_429_is_retried_after_the_given_pause(httpx_mock, hub_factory, fixtures_dir) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/v3/servicedescriptions/leikaid",
        status_code=429,
        headers={"Retry-After": "1"},
        match_params={"leikaIds": KEY, "ars": KOELN, "validDate": date.today().isoformat()},
    )
    answer_fully(httpx_mock, fixtures_dir)
    import time

    started = time.monotonic()
    result = state(hub_factory(retries=2)).resolver.resolve(KEY, KOELN)
    assert result.found and time.monotonic() - started >= 1.0


def test_timeouts_without_cache_are_unavailable_not_a_crash(httpx_mock, hub_factory) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), is_reusable=True)
    st = state(hub_factory(retries=1))
    with pytest.raises(AuthorityUnavailable, match="timeout"):
        st.resolver.resolve(KEY, KOELN)
    assert len(httpx_mock.get_requests()) == 2  # the first try and one retry


def test_breaker_stops_asking_after_a_failure(httpx_mock, hub_factory) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), is_reusable=True)
    st = state(hub_factory(retries=0, breaker_seconds=60))
    with pytest.raises(AuthorityUnavailable):
        st.resolver.resolve(KEY, KOELN)
    with pytest.raises(AuthorityUnavailable, match="moments ago"):
        st.resolver.resolve(KEY, KOELN)
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.httpx_mock(assert_all_responses_were_requested=False)
def test_unexpected_payload_is_an_error_not_a_crash(httpx_mock, hub_factory) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/v3/servicedescriptions/leikaid",
        match_params={"leikaIds": KEY, "ars": KOELN, "validDate": date.today().isoformat()},
        json={"content": "not a list"},
    )
    with pytest.raises(AuthorityUnavailable, match="not a list"):
        state(hub_factory(retries=0)).resolver.resolve(KEY, KOELN)


def test_intake_lookup_reads_the_cache_rarely_and_queues_misses(
    httpx_mock, hub_factory, fixtures_dir
) -> None:
    answer_fully(httpx_mock, fixtures_dir)
    h = hub_factory(cache_ttl_seconds=3600, retries=0, intake_memo_seconds=0.3)
    lookup = state(h).intake
    assert lookup.resolve(KEY, KOELN) is None  # nothing known: no remote call on this path
    assert httpx_mock.get_requests() == [] and lookup.pending() == 1
    assert lookup.refresh() == 1 and len(httpx_mock.get_requests()) == 3
    found = lookup.resolve(KEY, KOELN)
    assert found is not None and found.found and found.source == "pvog"
    # Aged in the database: intake sees it once its memo expired, serves it stale, queues it.
    with h.store.transaction() as conn:
        conn.execute(
            update(tables.authority_cache).values(fetched_at=first_fetched(h) - timedelta(days=2))
        )
    assert lookup.resolve(KEY, KOELN).source == "pvog" and lookup.pending() == 0  # memo
    import time

    time.sleep(0.35)
    stale = lookup.resolve(KEY, KOELN)
    assert stale is not None and stale.stale and stale.authority == found.authority
    assert lookup.pending() == 1
