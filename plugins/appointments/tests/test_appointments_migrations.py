"""The appointments table as migrated (p001 → p002: several booking systems, walk-ins, the
citizen's pseudonym) is exactly the declared one, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.testing import LiveHub, hub_config, postgres_schema, schema_drift
from hub_appointments import tables

TOKEN = "appointments-migration-token"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_give_the_declared_table(tmp_path: Path, backend: str) -> None:
    def check(url: str) -> None:
        config = hub_config(url, tmp_path / "out", TOKEN, plugins={"appointments": {}})
        with LiveHub(config) as live, live.hub.store.reading() as conn:
            assert schema_drift(conn, tables.metadata) == []

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        with postgres_schema("appointments") as url:
            check(url)
