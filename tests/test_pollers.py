"""Pollers: loops that follow remote status, run by the core with backoff, metrics and a
status page; configured under [pollers.x], validated by the plugin's settings model."""

from __future__ import annotations

import threading

import pytest
from pydantic import BaseModel, ConfigDict

import hub
from hub.core.errors import ConfigurationError
from hub.core.hub import Hub
from hub.testing import LiveHub, PluginManager, wait_until

from .conftest import TOKEN


class EventsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str


class Events:
    def __init__(self, settings: dict, h) -> None:
        self.settings = EventsSettings.model_validate(settings)
        self.rounds = 0
        self.script: list[Exception] = []
        self.lock = threading.Lock()

    def poll(self) -> None:
        with self.lock:
            self.rounds += 1
            if self.script:
                raise self.script.pop(0)


def plugin(made: list[Events]) -> PluginManager:
    class Acme:
        @hub.hookimpl
        def register_pollers(self, register):
            register("acme_events", lambda s, h: made.append(Events(s, h)) or made[-1])

        @hub.hookimpl
        def register_settings(self, register):
            register(EventsSettings, poller_type="acme_events")

    pm = PluginManager()
    pm.register(Acme(), name="acme")
    return pm


def test_a_poller_runs_every_interval_and_backs_off_while_the_remote_is_away(make_config):
    made: list[Events] = []
    cfg = make_config(pollers={"acme_events": {"url": "http://127.0.0.1:9", "interval": 0.05}})
    h_made = plugin(made)
    with LiveHub(cfg, h_made) as live:
        [events] = made
        assert events.settings.url == "http://127.0.0.1:9"  # interval is the core's, not passed
        assert wait_until(lambda: events.rounds >= 3, timeout=5)
        events.script = [hub.TransientError("remote away"), RuntimeError("Erika Mustermann")]
        assert wait_until(lambda: not events.script and events.rounds >= 6, timeout=10)
        with live.client(TOKEN) as c:
            [state] = c.get("/v1/pollers").json()["items"]
        sample = live.hub.metrics.registry.get_sample_value
        assert sample("hub_polls_total", {"poller": "acme_events", "outcome": "failed"}) == 1
        assert sample("hub_polls_total", {"poller": "acme_events", "outcome": "crashed"}) == 1
        assert sample("hub_polls_total", {"poller": "acme_events", "outcome": "ok"}) >= 3
        assert sample("hub_poll_last_success_seconds", {"poller": "acme_events"}) > 0
    assert state["name"] == "acme_events" and state["interval"] == 0.05
    assert state["last_success"] is not None
    assert state["last_error"] in (None, "unexpected RuntimeError")  # never the message


def test_backoff_grows_with_failures_in_a_row(make_config):
    from hub.core.pollers import PollerRunner

    made: list[Events] = []
    cfg = make_config(pollers={"acme_events": {"url": "u", "interval": 1}})
    h = Hub(cfg, plugin(made))
    try:
        runner = PollerRunner(h)
        [(state, events)] = runner._pollers
        events.script = [hub.TransientError("away")] * 5
        for _ in range(5):
            assert not runner.poll_once(state, events)
        assert state.failures == 5 and "away" in state.last_error
        assert runner.poll_once(state, events) and state.failures == 0
    finally:
        h.close()


@pytest.mark.parametrize(
    ("pollers", "channels", "message"),
    [
        ({"acme_events": {"interval": 1}}, {}, r"\[pollers\.acme_events\] url: Field required"),
        ({"acme_events": {"url": "u", "colour": "x"}}, {}, "colour"),
        ({"nobody_events": {}}, {}, r"\[pollers\.nobody_events\]: no plugin provides"),
        ({}, {"acme_events": {"url": "u"}}, r"rename the table to \[pollers\.acme_events\]"),
    ],
)
def test_poller_tables_are_checked_when_the_hub_is_built(make_config, pollers, channels, message):
    with pytest.raises(ConfigurationError, match=message):
        Hub(make_config(pollers=pollers, channels=channels), plugin([]))
