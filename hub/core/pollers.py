"""Running pollers: one thread each, a poll at start and then every interval, backing off
while the remote side is away. What each poller did last is kept for ``hub doctor`` and the
metrics (``hub_polls_total{poller,outcome}``, ``hub_poll_last_success_seconds{poller}``)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Gauge

from hub.core.errors import AdapterError, ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from hub.core.hub import Hub

log = structlog.get_logger("hub.pollers")
MAX_BACKOFF = 10  # intervals


@dataclass
class PollerState:
    name: str
    interval: float
    last_success: float | None = None
    last_error: str | None = None
    failures: int = 0  # in a row


class PollerRunner:
    """Builds every configured ``[pollers.x]`` (bad settings refuse the start) and runs them."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pollers: list[tuple[PollerState, Any]] = []
        for name, raw in hub.config.pollers.items():
            kind = hub.registry.poller_types.get(name)
            if kind is None:
                known = ", ".join(sorted(hub.registry.poller_types)) or "none"
                raise ConfigurationError(
                    f"[pollers.{name}]: no plugin provides this poller (available: {known})"
                )
            settings = dict(raw)
            interval = float(settings.pop("interval", kind.interval))
            try:
                poller = kind.factory(settings, hub)
            except ConfigurationError as exc:
                raise ConfigurationError(f"[pollers.{name}]: {exc}") from None
            if not callable(getattr(poller, "poll", None)):
                raise ConfigurationError(f"[pollers.{name}]: {kind.plugin} gave no poll()")
            self._pollers.append((PollerState(name, interval), poller))
        registry = hub.metrics.registry
        self._polls = hub.metrics.counter(
            "hub_polls", "Poller rounds by outcome", ["poller", "outcome"]
        )
        self._last = Gauge(
            "hub_poll_last_success_seconds",
            "Unix time of each poller's last successful round",
            ["poller"],
            registry=registry,
        )
        hub.pollers = [state for state, _ in self._pollers]

    def start(self) -> None:
        for state, poller in self._pollers:
            t = threading.Thread(
                target=self._run, args=(state, poller), name=f"hub-poller-{state.name}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def poll_once(self, state: PollerState, poller: Any) -> bool:
        """One round with the core's bookkeeping; True when it succeeded."""
        try:
            poller.poll()
        except AdapterError as exc:
            outcome, state.last_error = "failed", f"{type(exc).__name__}: {exc}"[:300]
            log.warning("poll_failed", poller=state.name, error=type(exc).__name__)
        except Exception as exc:  # a plugin bug: the message may quote data, keep the type
            outcome, state.last_error = "crashed", f"unexpected {type(exc).__name__}"
            log.error("poll_crashed", poller=state.name, error=type(exc).__name__)
        else:
            outcome, state.last_error, state.failures = "ok", None, 0
            state.last_success = time.time()
            self._last.labels(state.name).set(state.last_success)
        self._polls.labels(state.name, outcome).inc()
        if outcome != "ok":
            state.failures += 1
        return outcome == "ok"

    def _run(self, state: PollerState, poller: Any) -> None:
        while not self.stop_event.is_set():
            self.poll_once(state, poller)
            delay = state.interval * min(2**state.failures, MAX_BACKOFF)
            self.stop_event.wait(delay)

    def stop(self, timeout: float) -> None:
        self.stop_event.set()
        for t in self._threads:
            t.join(timeout)


__all__ = ["PollerRunner", "PollerState"]
