"""Alembic environment for the core's migrations; see hub.core.store.migrate.run_env."""

from hub.core.store.migrate import run_env

run_env()
