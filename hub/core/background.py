"""An ASGI app served by uvicorn in a background thread: the development services plugins start
inside ``hub serve`` (simulators, reference receivers) and the tests' loopback servers."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


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
