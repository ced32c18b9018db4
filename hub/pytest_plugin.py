"""Pytest fixtures for plugin authors, loaded automatically wherever ``kommunal-hub`` is
installed (entry point ``pytest11``). Each is a factory, so a test says what it needs:

``make_hub_config(**sections)``
    a working config on SQLite in the test's ``tmp_path``: one client holding ``hub_token``
    (all municipalities, read and write), the ``file`` adapter; ``sections`` replace tables
    (``adapters={...}``, ``routes=[...]``, ``plugins={...}``).
``live_hub(config=None, plugins=None)``
    the real API on a loopback port with delivery workers (:class:`hub.testing.LiveHub`),
    stopped after the test; ``.client(token)`` gives an HTTP client, ``.hub`` the hub.
``started_hub(config=None, plugins=None)``
    a hub without HTTP or workers, started as a CLI command starts it: for intake, stores and
    adapters called directly.
``delivery_context(hub, record_id, adapter, attempt=1)``
    the :class:`hub.DeliveryContext` the dispatcher would hand your adapter's ``deliver``.
``console_page`` (and the session's ``console_browser``)
    a Playwright page in Debian's Chromium for console pages; pair it with
    :func:`hub.testing.add_staff`, :func:`~hub.testing.console_sign_in` and
    :func:`~hub.testing.assert_accessible`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from hub.core.config import HubConfig
from hub.core.context import DeliveryContext
from hub.core.hub import Hub
from hub.core.plugins import PluginManager
from hub.testing import LiveHub, hub_config


@pytest.fixture
def hub_token() -> str:
    """The bearer token of ``make_hub_config``'s client."""
    return "hub-test-token-0123456789"


@pytest.fixture
def make_hub_config(tmp_path: Any, hub_token: str) -> Callable[..., HubConfig]:
    def make(**sections: Any) -> HubConfig:
        return hub_config(
            f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "outbox", hub_token, **sections
        )

    return make


@pytest.fixture
def live_hub(make_hub_config: Callable[..., HubConfig]) -> Iterator[Callable[..., LiveHub]]:
    running: list[LiveHub] = []

    def start(config: HubConfig | None = None, plugins: PluginManager | None = None) -> LiveHub:
        live = LiveHub(config or make_hub_config(), plugins)
        live.__enter__()
        running.append(live)
        return live

    yield start
    for live in reversed(running):
        live.__exit__(None, None, None)


@pytest.fixture
def started_hub(make_hub_config: Callable[..., HubConfig]) -> Iterator[Callable[..., Hub]]:
    made: list[Hub] = []

    def start(config: HubConfig | None = None, plugins: PluginManager | None = None) -> Hub:
        h = Hub(config or make_hub_config(), plugins)
        made.append(h)
        h.start(intake_thread=False)
        return h

    yield start
    for h in reversed(made):
        h.close()


@pytest.fixture
def delivery_context() -> Callable[..., DeliveryContext]:
    def make(h: Hub, record_id: str, adapter: str, attempt: int = 1) -> DeliveryContext:
        return DeliveryContext(
            hub=h,
            record_id=record_id,
            adapter=adapter,
            attempt=attempt,
            settings=dict(h.config.adapters.get(adapter, {})),
            http=h.http_for(adapter),
            log=structlog.get_logger("hub.test").bind(record_id=record_id, adapter=adapter),
        )

    return make


@pytest.fixture(scope="session")
def console_browser() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright, one per test session
    (:func:`hub.testing.chromium`)."""
    from hub.testing import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture
def console_page(console_browser: Any) -> Iterator[Any]:
    """A fresh browser page (German locale, 1280×900) for a console test; closed after it."""
    context = console_browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()
