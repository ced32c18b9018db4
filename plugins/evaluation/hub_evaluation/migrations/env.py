"""Alembic environment of the evaluation plugin's own migration history."""

from hub import migration_env

migration_env()
