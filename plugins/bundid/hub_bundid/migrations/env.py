"""Alembic environment of the bundid plugin's own migration history."""

from hub.core.store.migrate import run_env

run_env()
