"""Alembic environment of the xmeld plugin's own migration history."""

from hub import migration_env

migration_env()
