"""Alembic environment of the catalogue's own migration history."""

from hub import migration_env

migration_env()
