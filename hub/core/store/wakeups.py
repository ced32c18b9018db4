"""Wake-ups across processes on PostgreSQL: every transaction that makes a delivery due sends
``NOTIFY hub_deliveries`` (PostgreSQL delivers it at commit, once per transaction), and each
process with delivery workers listens on a connection of its own. Idle workers then start at
once instead of finding new work at their next poll; the poll stays as the safety net (a lost
connection, a retry whose time has come, an expired lease).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.engine import make_url

CHANNEL = "hub_deliveries"

log = structlog.get_logger("hub.dispatch")


def announce(conn: Any) -> None:
    """Inside a write transaction on PostgreSQL: wake the listeners when it commits."""
    conn.exec_driver_sql(f"NOTIFY {CHANNEL}")


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq reads it (without the ``+psycopg`` driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class DeliveryListener:
    """A thread that LISTENs on :data:`CHANNEL` and calls ``on_wake`` for each notification
    (and once after every (re)connect, for what was committed while it was away)."""

    def __init__(self, url: str, on_wake: Callable[[], None], *, retry_seconds: float = 2.0):
        self.url = libpq_url(url)
        self.on_wake = on_wake
        self.retry_seconds = retry_seconds
        self.connected = threading.Event()
        self.wakeups = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    log.info("delivery_listener_connected")
                    self.on_wake()
                    while not self._stop.is_set():
                        # Returns after a second without notifications, so stop() is seen.
                        for _ in conn.notifies(timeout=1.0):
                            self.wakeups += 1
                            self.on_wake()
            except Exception as exc:  # database down or restarted: the poll carries on meanwhile
                log.warning("delivery_listener_lost", error=type(exc).__name__)
            self.connected.clear()
            self._stop.wait(self.retry_seconds)
