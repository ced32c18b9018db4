"""Shared fixtures. PostgreSQL tests use the server at $HUB_TEST_POSTGRES_URL (default: the
machine's 127.0.0.1:5432, database ``test``); each test gets a schema of its own."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from hub.core.config import HubConfig, config_from_dict
from hub.core.plugins import DISABLE_ENV, PluginManager
from hub.testing import POSTGRES_URL_ENV, postgres_schema

ROOT = Path(__file__).resolve().parents[1]


def bundled_plugins() -> list[str]:
    """Entry-point names of the plugins under plugins/ (each a distribution of its own)."""
    names = []
    for project in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        data = tomllib.loads(project.read_text(encoding="utf-8"))
        names += list(data.get("project", {}).get("entry-points", {}).get("hub", {}))
    return names


@pytest.fixture(autouse=True)
def core_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Core tests exercise the core alone: bundled plugins (installed in the same environment)
    are blocked here, in this process and in the hub processes the tests start."""
    monkeypatch.setenv(DISABLE_ENV, ",".join(bundled_plugins()))


TOKEN = "test-token-0123456789"
READ_TOKEN = "read-token-0123456789"
OTHER_TOKEN = "other-token-0123456789"


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards. Fails loudly if PostgreSQL is absent."""
    try:
        with postgres_schema() as url:
            yield url
    except OperationalError as exc:  # pragma: no cover - environment problem, say so clearly
        pytest.fail(f"PostgreSQL is required for this test ({POSTGRES_URL_ENV}): {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return request.getfixturevalue("pg_url")


def base_config(store_url: str, outbox: Path, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "store": {"url": store_url},
        "delivery": {
            "workers": 2,
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            "poll_interval": 0.05,
            "lease_seconds": 5,
            "timeout": 4,  # shorter than the lease (a configuration rule)
        },
        "clients": [
            {
                "name": "portal",
                "token_sha256": sha(TOKEN),
                "scopes": ["records:write", "records:read", "admin"],
                "municipalities": ["05111*"],
            },
            {
                "name": "reader",
                "token_sha256": sha(READ_TOKEN),
                "scopes": ["records:read"],
                "municipalities": ["*"],
            },
            {
                "name": "other",
                "token_sha256": sha(OTHER_TOKEN),
                "scopes": ["records:write", "records:read"],
                "municipalities": ["053150000000"],
            },
        ],
        "routes": [{"adapters": ["file"]}],
        "adapters": {"file": {"directory": str(outbox)}},
        "attachments": {"directory": str(outbox.parent / "attachments")},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


@pytest.fixture
def make_config(tmp_path: Path):
    def make(store_url: str | None = None, **extra: Any) -> HubConfig:
        url = store_url or f"sqlite:///{tmp_path / 'hub.db'}"
        return config_from_dict(base_config(url, tmp_path / "outbox", **extra))

    return make


@pytest.fixture
def plugins() -> PluginManager:
    """The real plugin manager (entry points loaded), ready for test plugins to be added."""
    return PluginManager()
