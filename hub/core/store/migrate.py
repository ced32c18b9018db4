"""Alembic migrations, run programmatically (no alembic.ini to install or find).

The core and every plugin with tables of its own keep separate migration histories in the same
database, each with its own version table, so a plugin can be added or removed without touching
the core's history. A plugin's ``migrations/env.py`` is two lines::

    import hub
    hub.migration_env()
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Engine, MetaData, text

MIGRATIONS = Path(__file__).parent / "migrations"
CORE_VERSION_TABLE = "alembic_version"
# Arbitrary constant: serialises concurrent `hub serve` start-ups on one PostgreSQL.
_PG_LOCK_KEY = 0x68_75_62_00


def _config(script_location: Path, metadata: MetaData | None, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["metadata"] = metadata
    cfg.attributes["version_table"] = version_table
    return cfg


def run_env() -> None:
    """Body of every migrations/env.py: migrate on the connection ``upgrade`` passes in."""
    cfg = context.config
    connection = cfg.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=cfg.attributes.get("metadata"),
        version_table=cfg.attributes.get("version_table", CORE_VERSION_TABLE),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def upgrade(
    engine: Engine,
    revision: str = "head",
    *,
    script_location: Path = MIGRATIONS,
    metadata: MetaData | None = None,
    version_table: str = CORE_VERSION_TABLE,
) -> None:
    """Upgrade one migration history (the core's by default) to ``revision``."""
    if metadata is None and script_location == MIGRATIONS:
        from hub.core.store.schema import metadata as core_metadata

        metadata = core_metadata
    cfg = _config(script_location, metadata, version_table)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()


def current_revision(engine: Engine, version_table: str = CORE_VERSION_TABLE) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": version_table}
        ).get_current_revision()


def head_revision(script_location: Path = MIGRATIONS) -> str | None:
    """The newest revision of a migration history (what ``upgrade`` would reach)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(script_location)).get_current_head()
