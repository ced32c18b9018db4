"""A ZMS citizen API double on loopback (with a clock tests can move) and a live hub whose
[plugins.appointments] points at it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub import BackgroundServer
from hub.testing import LiveHub, free_port, hub_config
from hub_appointments.sim.zms import demo

TOKEN = "appointments-test-token-01"
OFFICES = {
    "10": {"ars": "051110000000"},
    "20": {"ars": "051110000000"},
    "30": {"ars": "053160000000"},
}
SERVICES = {"1": "99102013104000", "2": "99102012104000", "3": "99115005104000"}
AUSWEIS, PASS, ANMELDUNG = "99102013104000", "99102012104000", "99115005104000"


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def zms(clock: Clock) -> Iterator[Any]:
    sim = demo(clock)
    port = free_port()
    server = BackgroundServer(sim.app(), "127.0.0.1", port, name="zms-test").start()
    sim.url = f"http://127.0.0.1:{port}"
    try:
        yield sim
    finally:
        server.stop()


def make_config(tmp_path: Path, zms_url: str, **appointments: Any):
    return hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        plugins={
            "appointments": {
                "url": zms_url,
                "offices": OFFICES,
                "services": SERVICES,
                **appointments,
            },
            "ozg_catalog": {"pvog_enabled": False},
        },
    )


@pytest.fixture
def booking(tmp_path: Path, zms: Any) -> Iterator[LiveHub]:
    with LiveHub(make_config(tmp_path, zms.url)) as live:
        yield live


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def booking_with(tmp_path: Path, zms: Any):
    """``booking_with(plugins=None, **settings)``: a live hub with these [plugins.appointments]
    settings (and this plugin manager)."""

    def make(plugins: Any = None, **settings: Any) -> LiveHub:
        return LiveHub(make_config(tmp_path, zms.url, **settings), plugins)

    return make
