"""Alembic environment of the fitconnect plugin's own migration history."""

from hub import migration_env

migration_env()
