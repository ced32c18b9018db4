"""Per-hub plugin state: a typed slot instead of string keys in a shared dict.

A plugin declares its slot once, at module level::

    KOFFER: hub.PluginState[KofferStore] = hub.PluginState("bundesdruckerei", build_store)

and gets its state with ``KOFFER(h)``: built by ``build(h)`` on first use, once per hub (two
hubs in one process — tests, embedding — never share it), and typed as what ``build`` returns.
Slots are told apart by identity, not by name, so two plugins cannot overwrite each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_MISSING = object()


class PluginState(Generic[T]):
    """One plugin's state per hub; ``name`` is for messages and ``repr`` only."""

    def __init__(self, name: str, build: Callable[[Any], T] | None = None):
        self.name = name
        self._build = build

    def __call__(self, h: Any) -> T:
        """The state for hub ``h``, built on first use (one build even when threads race)."""
        slots = _slots(h)
        found = slots.values.get(self, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        if self._build is None:
            raise LookupError(f"plugin state {self.name!r} has not been set for this hub")
        with slots.lock:
            found = slots.values.get(self, _MISSING)
            if found is _MISSING:
                found = self._build(h)
                slots.values[self] = found
        return found  # type: ignore[return-value]

    def get(self, h: Any) -> T | None:
        """The state if it exists, without building it."""
        found = _slots(h).values.get(self, _MISSING)
        return None if found is _MISSING else found  # type: ignore[return-value]

    def set(self, h: Any, value: T) -> None:
        """Put a state that something else built (a channel registering itself)."""
        slots = _slots(h)
        with slots.lock:
            slots.values[self] = value

    def __repr__(self) -> str:
        return f"PluginState({self.name!r})"


class _Slots:
    __slots__ = ("lock", "values")

    def __init__(self) -> None:
        self.lock = threading.RLock()  # a build may ask for another plugin state
        self.values: dict[PluginState[Any], Any] = {}


def _slots(h: Any) -> _Slots:
    slots = getattr(h, "plugin_state", None)
    if not isinstance(slots, _Slots):
        raise TypeError("plugin state lives on a hub.Hub")
    return slots


def new_slots() -> _Slots:
    return _Slots()


__all__ = ["PluginState"]
