"""The slot book on PostgreSQL: both plugins' migrations give exactly their declared tables,
and the last desk goes to one of two concurrent bookings (row lock on the Einsatz)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_slot_book import AUSWEIS, plan, popup, slots

from hub.testing import LiveHub, hub_config, postgres_schema, schema_drift
from hub_mobile_office import tables

TOKEN = "slot-book-pg-token-0123"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_give_the_declared_tables(tmp_path: Path, backend: str) -> None:
    def check(url: str) -> None:
        config = hub_config(url, tmp_path / "out", TOKEN, plugins={"appointments": {}})
        with LiveHub(config) as live, live.hub.store.reading() as conn:
            assert schema_drift(conn, tables.metadata) == []

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        with postgres_schema("slotbook") as url:
            check(url)


def test_the_last_desk_goes_to_one_of_two_on_postgresql(tmp_path: Path) -> None:
    with postgres_schema("slotbook") as url:
        config = hub_config(url, tmp_path / "out", TOKEN, plugins={"appointments": {}})
        with LiveHub(config) as live:
            with live.client(TOKEN) as c:
                office = plan(c, popup())
                start = slots(c, office)[0]
            results: list[int] = []
            barrier = threading.Barrier(2)

            def race() -> None:
                with live.client(TOKEN) as mine:
                    barrier.wait()
                    body = {"office": office, "services": [{"leika": AUSWEIS}], "start": start}
                    results.append(mine.post("/v1/appointments", json=body).status_code)

            threads = [threading.Thread(target=race) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            with live.client(TOKEN) as c:
                left = slots(c, office)
    assert sorted(results) == [201, 409]
    assert start not in left
