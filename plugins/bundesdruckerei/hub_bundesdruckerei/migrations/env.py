"""Alembic environment of the bundesdruckerei plugin's own migration history."""

from hub import migration_env

migration_env()
