"""Alembic environment of the appointments plugin's own migration history."""

from hub import migration_env

migration_env()
