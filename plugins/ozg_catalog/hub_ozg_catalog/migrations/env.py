"""Alembic environment of the catalogue's own migration history."""

from hub.core.store.migrate import run_env

run_env()
