"""Alembic environment of the bundid plugin's own migration history."""

from hub import migration_env

migration_env()
