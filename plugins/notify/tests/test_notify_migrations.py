"""The notify tables as migrated are exactly the declared ones, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_notify import tables
from notify_mail import notify_config

from hub.testing import LiveHub, postgres_schema, schema_drift


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_give_the_declared_tables(tmp_path: Path, mail, backend: str) -> None:
    def check(url: str) -> None:
        with LiveHub(notify_config(tmp_path, mail, url)) as live, live.hub.store.reading() as c:
            assert schema_drift(c, tables.metadata) == []

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        with postgres_schema("notify") as url:
            check(url)
