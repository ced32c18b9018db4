"""Connections to the store's database, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url

from hub.core.errors import ConfigurationError
from hub.core.store.wakeups import announce


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


class Connections:
    """The engines: SQLite (WAL, ``synchronous=FULL``, one writer with ``BEGIN IMMEDIATE``) or
    PostgreSQL; schema upgrade and liveness."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        try:
            backend = make_url(url).get_backend_name()
        except Exception as exc:
            raise ConfigurationError(f"store.url is not a database URL: {exc}") from exc
        if backend not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"store.url: unsupported database {backend!r} (sqlite, postgresql)"
            )
        self.dialect = backend
        db_file = _sqlite_file(url)
        if db_file is not None:
            try:
                db_file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"store.url: cannot create {db_file.parent}: {exc.strerror}"
                ) from None
        if backend == "sqlite":
            self.engine = self._sqlite_engine(url, immediate=True, echo=echo)
            self.read_engine = self._sqlite_engine(url, immediate=False, echo=echo)
        else:
            self.engine = create_engine(
                url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
            self.read_engine = self.engine

    @staticmethod
    def _sqlite_engine(url: str, *, immediate: bool, echo: bool) -> Engine:
        # Readers keep their connections: one beyond the pool is opened and closed per use,
        # which with its pragmas costs more than the read (intake serves 40 threads at once).
        sizes = {} if immediate else {"pool_size": 48, "max_overflow": 16}
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, **sizes
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # an accepted record survives power loss
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    # --- for plugin tables (the public way in; plugins never touch the engines) -------------

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction on the hub's database: committed when the block ends, rolled
        back when it raises. On SQLite it takes the one writer lock at once (``BEGIN
        IMMEDIATE``), so a read-then-write inside it cannot deadlock with another writer."""
        return self.engine.begin()

    def reading(self) -> AbstractContextManager[Connection]:
        """A connection for reading (on SQLite its own pool, which never waits for the writer;
        on PostgreSQL the same pool). Write only through :meth:`transaction`."""
        return self.read_engine.connect()

    def announce(self, conn: Connection) -> None:
        """In a write transaction that made deliveries due: on PostgreSQL, wake the delivery
        workers of every process when it commits (``hub.core.store.wakeups``)."""
        if self.dialect == "postgresql":
            announce(conn)

    def has_table(self, name: str) -> bool:
        """Whether a table exists (e.g. before a plugin's migration ran)."""
        from sqlalchemy import inspect

        return inspect(self.read_engine).has_table(name)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    # --- schema --------------------------------------------------------------------------------

    def reachable(self) -> None:
        """Raise :class:`ConfigurationError` naming the store when it cannot be used (server
        down, wrong password, unwritable file): one clear line instead of a traceback."""
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.begin() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            where = make_url(self.url).render_as_string(hide_password=True)
            raise ConfigurationError(f"store {where} cannot be used: {reason}") from None

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (serialised across processes)."""
        from hub.core.store.migrate import upgrade

        upgrade(self.engine)

    def ping(self) -> None:
        with self.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
