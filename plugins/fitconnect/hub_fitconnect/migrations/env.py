"""Alembic environment of the fitconnect plugin's own migration history."""

from hub.core.store.migrate import run_env

run_env()
