"""Background work in threads: an ASGI app served by uvicorn (the development services plugins
start inside ``hub serve`` — simulators, reference receivers — and the tests' loopback
servers), and periodic tasks (sweepers, purges) plugins register as services."""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
import uvicorn

log = structlog.get_logger("hub.background")


class BackgroundServer:
    def __init__(self, app: Any, host: str, port: int, *, name: str = "background", **config: Any):
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, **config)
        )
        # The hub's own process handles signals; this server must not take them over.
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


__all__ = ["BackgroundServer"]


class PeriodicTask:
    """A background service for ``register_services``: calls ``fn()`` every ``interval``
    seconds in a thread of its own (with ``at_start``, once at start too). A failing round is
    logged with the exception's type only — never its message, which may carry data — and the
    next round tries again."""

    def __init__(
        self,
        name: str,
        fn: Any,
        interval: float,
        *,
        at_start: bool = False,
        failure_event: str = "periodic_task_failed",
    ):
        self.name, self.fn, self.interval = name, fn, interval
        self.at_start, self.failure_event = at_start, failure_event
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.at_start:
            self._round()
        while not self._stop.wait(self.interval):
            self._round()

    def _round(self) -> None:
        try:
            self.fn()
        except Exception as exc:
            log.warning(self.failure_event, task=self.name, error=type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
