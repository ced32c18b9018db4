"""The hub's clock: the UTC time everything the hub stamps reads (received, delivered, leases,
histories). A replay of history (sample data, tests of a whole year) sets it with
:class:`SimulatedClock`; otherwise it is the system clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_source: Callable[[], datetime] | None = None
_installing = threading.Lock()


def utcnow() -> datetime:
    source = _source  # one read: a clock removed meanwhile does not break the call
    return datetime.now(UTC) if source is None else source()


class SimulatedClock:
    """Time as a replay says it is, for the whole process while installed (``with``).

    Only for feeding history into a hub that serves nobody else (the sample year, tests): a
    daemon serving citizens must never run under it. One at a time; ``set`` and ``advance``
    move it, from any thread.
    """

    def __init__(self, start: datetime):
        self._now = _aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = _aware(when)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def __enter__(self) -> SimulatedClock:
        global _source
        with _installing:
            if _source is not None:
                raise RuntimeError("a simulated clock is installed already")
            _source = self.now
        return self

    def __exit__(self, *exc: object) -> None:
        global _source
        with _installing:
            _source = None


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("give the time with its time zone")
    return when.astimezone(UTC)


__all__ = ["SimulatedClock", "utcnow"]
