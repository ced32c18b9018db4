"""Fixtures for the catalogue plugin. Real catalogue data is read from the shared folder named by
HUB_SHARED_DIR (default: ../shared next to the repository); tests that need it skip, saying so,
when it is absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from hub.testing import POSTGRES_URL_ENV, Hub, PluginManager, hub_config, postgres_schema

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("HUB_SHARED_DIR", REPO.parent / "shared"))
FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "catalog-test-token-0123"


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(
            f"needs {relative} from the shared folder; set HUB_SHARED_DIR (looked in {SHARED})"
        )
    return path


@pytest.fixture
def leika_csv() -> Path:
    return shared_file("catalog/leika_kdn_2019.csv")


@pytest.fixture
def regions_json() -> Path:
    return shared_file("catalog/regionalschluessel_2025-07-31.json")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    try:
        with postgres_schema("cattest") as url:
            yield url
    except OperationalError as exc:  # pragma: no cover
        pytest.fail(f"PostgreSQL is required for this test ({POSTGRES_URL_ENV}): {exc}")


def make_config(store_url: str, tmp_path: Path, **plugin_settings: Any):
    return hub_config(
        store_url,
        tmp_path / "outbox",
        TOKEN,
        plugins={
            "ozg_catalog": {
                # PVOG is off by default; these tests talk to it (pytest-httpx recordings)
                "pvog_enabled": True,
                "pvog_url": "https://pvog.test/suchdienst/api",
                "breaker_seconds": 0,
                **plugin_settings,
            }
        },
    )


@pytest.fixture
def hub_factory(tmp_path: Path):
    made: list[Hub] = []

    def make(store_url: str | None = None, **plugin_settings: Any) -> Hub:
        url = store_url or f"sqlite:///{tmp_path / 'hub.db'}"
        h = Hub(make_config(url, tmp_path, **plugin_settings), PluginManager())
        h.start(intake_thread=False)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture
def catalog_config():
    """Build a hub config with catalogue settings (``make_config``) for live tests."""
    return make_config


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def kdn_rows() -> list[dict[str, Any]]:
    from hub_ozg_catalog.importers import read_leika_csv

    return read_leika_csv(shared_file("catalog/leika_kdn_2019.csv"))[1]
