"""Alembic environment of the notify plugin's own migration history."""

from hub import migration_env

migration_env()
