"""The evaluation tables as migrated (e001 → e002: final status and media break per case,
appointments, Einsätze, offered slots, costs) are exactly the declared ones, on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from hub.testing import LiveHub, hub_config, postgres_schema, schema_drift
from hub_evaluation import tables

TOKEN = "evaluation-migration-token"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_give_the_declared_tables(tmp_path: Path, backend: str) -> None:
    def check(url: str) -> None:
        config = hub_config(url, tmp_path / "out", TOKEN, plugins={"evaluation": {}})
        with LiveHub(config) as live, live.hub.store.reading() as conn:
            assert schema_drift(conn, tables.metadata) == []
            names = set(inspect(conn).get_table_names())
        assert {t.name for t in tables.metadata.sorted_tables} <= names

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        with postgres_schema("evaluation_mig") as url:
            check(url)
