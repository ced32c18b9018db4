"""A live hub with the mobile_office plugin, and Einsatz plans to start from."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.testing import LiveHub, hub_config

TOKEN = "mobile-office-token-0123"
PASS, AUSWEIS, ANMELDUNG = "99102012104000", "99102013104000", "99115005104000"

KOFFER_AT_THE_BANK = {
    "kind": "koffer_partner",
    "name": "Bürgerkoffer in der Sparkasse",
    "place": {
        "name": "Sparkasse, Filiale Opladen",
        "partner": "Sparkasse",
        "address": "Kölner Straße 98, 51379 Leverkusen",
        "lat": 51.0665,
        "lon": 7.0046,
        "ars": "053160000000",
    },
    "start": "2027-01-01",
    "rrule": "FREQ=MONTHLY;BYDAY=1TH,3TH;UNTIL=20271231",
    "hours": {"start": "12:00", "end": "16:00"},
    "capabilities": ["camera", "fingerprint", "signature_pad"],
    "devices": ["koffer-lev-01"],
    "services": [AUSWEIS, PASS],
    "staff": ["Frau Beispiel"],
}


@pytest.fixture
def plan() -> dict[str, Any]:
    return copy.deepcopy(KOFFER_AT_THE_BANK)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[LiveHub]:
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        plugins={"ozg_catalog": {"pvog_enabled": False}, "mobile_office": {}},
    )
    with LiveHub(config) as live:
        yield live


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def slot_office(tmp_path: Path) -> Iterator[LiveHub]:
    """A live hub whose Einsätze are booked through the appointments API: the appointments
    plugin without a booking system of its own, so the slot book is what it offers."""
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        plugins={"ozg_catalog": {"pvog_enabled": False}, "appointments": {}, "mobile_office": {}},
    )
    with LiveHub(config) as live:
        yield live
