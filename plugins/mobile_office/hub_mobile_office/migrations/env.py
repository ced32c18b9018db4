"""Alembic environment of the mobile_office plugin's own migration history."""

from hub import migration_env

migration_env()
