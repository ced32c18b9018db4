"""The sample year, generated once per test session through the hub's real intake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sampled import SCALE, SEED, YEAR, config

from hub.testing import Hub, LiveHub
from hub_evaluation.sample import Truth, feed


@pytest.fixture(scope="session")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveHub, Truth]]:
    where = tmp_path_factory.mktemp("sample")
    cfg = config(f"sqlite:///{where / 'hub.db'}", where / "out")
    h = Hub(cfg)
    h.start(intake_thread=False)
    try:
        truth = feed(h, year=YEAR, seed=SEED, scale=SCALE, portal_per_day=12)
    finally:
        h.close()
    with LiveHub(cfg) as live:
        yield live, truth
