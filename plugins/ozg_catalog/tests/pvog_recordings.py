"""PVOG Suchdienst answers for pytest-httpx, shaped like the live responses as public clients
consume them (fixtures/pvog/): shared by the catalogue's tests (a module of its own, since one
pytest run over all plugins imports a single ``conftest``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

BASE = "https://pvog.test/suchdienst/api"
KOELN = "053150000000"
KEY = "99115005104000"


def load(fixtures_dir: Path, name: str):
    return json.loads((fixtures_dir / "pvog" / name).read_text())


def leikaid(mock, fixtures_dir, ars: str, found: bool = True, **kw) -> None:
    mock.add_response(
        url=f"{BASE}/v3/servicedescriptions/leikaid",
        match_params={"leikaIds": KEY, "ars": ars, "validDate": date.today().isoformat()},
        json=load(fixtures_dir, "leikaid_page.json" if found else "leikaid_empty.json"),
        **kw,
    )


def answer_fully(mock, fixtures_dir, ars: str = KOELN) -> None:
    leikaid(mock, fixtures_dir, ars)
    mock.add_response(
        url=f"{BASE}/v2/organisationunits/titles",
        match_params={"ars": ars, "lbId": "L100002.LB.121345242"},
        json=load(fixtures_dir, "titles.json"),
    )
    mock.add_response(
        url=f"{BASE}/v5/organisationunits/detail",
        match_params={"q": "L100002.OE.3315020"},
        json=load(fixtures_dir, "detail.json"),
    )
