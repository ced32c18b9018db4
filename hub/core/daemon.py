"""Running the hub: ``hub serve`` (API, workers, channels, pollers) and ``hub worker``
(workers only).

Both stop cleanly on SIGTERM/SIGINT: no new work is taken, in-flight deliveries finish (up to
``delivery.drain_seconds``), unstarted leases are handed back, then the process exits.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator

import structlog
import uvicorn

from hub.core.dispatch import Dispatcher
from hub.core.errors import ConfigurationError
from hub.core.hub import Hub
from hub.core.pollers import PollerRunner

log = structlog.get_logger("hub.daemon")


class ChannelRunner:
    """Runs each configured intake channel in a thread; a crashed channel restarts after a pause."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self._channels = []
        for name, settings in hub.config.channels.items():
            kind = hub.registry.channel_types.get(name)
            if kind is None:
                raise ConfigurationError(f"[channels.{name}]: no plugin provides this channel")
            self._channels.append((name, kind.factory(dict(settings), hub)))

    def start(self) -> None:
        for name, channel in self._channels:
            t = threading.Thread(
                target=self._run, args=(name, channel), name=f"hub-channel-{name}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def _run(self, name: str, channel: object) -> None:
        while not self.stop_event.is_set():
            try:
                channel.run(self.stop_event)  # type: ignore[attr-defined]
                return
            except Exception as exc:
                log.error("channel_crashed", channel=name, error=type(exc).__name__)
                self.stop_event.wait(5.0)

    def stop(self, timeout: float) -> None:
        self.stop_event.set()
        for t in self._threads:
            t.join(timeout)


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its own shutdown, which would kill the process before the
    workers drain; here the signal only asks the server to exit and ``serve`` finishes the job."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or :class:`ConfigurationError` saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise ConfigurationError(
            f"server: cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(
    hub: Hub,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run API, delivery workers and channels in this process until SIGTERM/SIGINT."""
    from hub.core.api import create_app

    bind_host = host or hub.config.server.host
    bind_port = port if port is not None else hub.config.server.port
    # Bind before anything starts: a port in use is one clear line, and nothing says
    # "serving" before the socket is ours.
    sock = listen(bind_host, bind_port)
    try:
        hub.start()
        _ = hub.adapters  # build them now: bad adapter settings refuse start-up, not later
    except BaseException:
        sock.close()
        raise
    dispatcher = Dispatcher(hub, workers)
    hub.dispatcher = dispatcher
    channels = ChannelRunner(hub)
    pollers = PollerRunner(hub)
    app = create_app(hub)
    config = uvicorn.Config(
        app,
        host=bind_host,
        port=sock.getsockname()[1],
        log_config=None,
        access_log=hub.config.server.access_log,
        server_header=False,
        timeout_graceful_shutdown=int(hub.config.delivery.drain_seconds) or 1,
    )
    server = _Server(config)
    dispatcher.start()
    channels.start()
    pollers.start()
    log.info("hub_serving", host=config.host, port=config.port, workers=dispatcher.workers)
    if on_ready is not None:
        on_ready()
    try:
        server.run(sockets=[sock])
    finally:
        channels.stop(hub.config.delivery.drain_seconds)
        pollers.stop(hub.config.delivery.drain_seconds)
        dispatcher.stop()
        hub.close()
        log.info("hub_stopped")


def run_worker(hub: Hub, *, workers: int | None = None) -> None:
    """Run delivery workers only (scale-out next to ``hub serve`` on a shared PostgreSQL)."""
    stop = threading.Event()

    def _signal(signum: int, _frame: object) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    hub.start(intake_thread=False)
    _ = hub.adapters
    dispatcher = Dispatcher(hub, workers)
    hub.dispatcher = dispatcher
    if dispatcher.workers == 0:
        raise ConfigurationError("hub worker needs at least one delivery worker")
    dispatcher.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        dispatcher.stop()
        hub.close()
        log.info("worker_stopped")
