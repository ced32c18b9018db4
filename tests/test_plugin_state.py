"""hub.PluginState: typed per-hub slots for plugin state."""

from __future__ import annotations

import threading
import time

import pytest

import hub
from hub.core.hub import Hub


def test_state_is_built_once_per_hub_even_when_threads_race(make_config) -> None:
    builds: list[Hub] = []

    def build(h: Hub) -> dict[str, int]:
        time.sleep(0.05)  # widen the window two threads could both build in
        builds.append(h)
        return {"n": len(builds)}

    slot: hub.PluginState[dict[str, int]] = hub.PluginState("acme", build)
    first, second = Hub(make_config()), Hub(make_config())
    try:
        seen: list[dict[str, int]] = []
        threads = [threading.Thread(target=lambda: seen.append(slot(first))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(builds) == 1 and all(s is seen[0] for s in seen)
        assert slot(second) is not slot(first)  # two hubs in one process never share
        assert builds == [first, second]
    finally:
        first.close()
        second.close()


def test_slots_are_told_apart_by_identity_not_by_name(make_config) -> None:
    mine = hub.PluginState("acme", lambda h: "mine")
    theirs = hub.PluginState("acme", lambda h: "theirs")
    h = Hub(make_config())
    try:
        assert (mine(h), theirs(h)) == ("mine", "theirs")
    finally:
        h.close()


def test_a_state_without_a_builder_is_set_by_its_owner(make_config) -> None:
    channel: hub.PluginState[str] = hub.PluginState("acme.channel")
    h = Hub(make_config())
    try:
        assert channel.get(h) is None
        with pytest.raises(LookupError, match=r"acme\.channel"):
            channel(h)
        channel.set(h, "running")
        assert channel(h) == "running" and channel.get(h) == "running"
    finally:
        h.close()
    with pytest.raises(TypeError, match=r"hub\.Hub"):
        channel(object())
