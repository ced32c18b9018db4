"""Wake-ups across processes on PostgreSQL (LISTEN/NOTIFY): a worker whose poll lies far ahead
starts on a record another hub accepted at once; retries and expired leases wake it at their
time. Two hubs on one schema stand for two processes (``hub serve --workers 0`` and ``hub
worker``): they share nothing but the database, as processes do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

import hub
from hub.core.dispatch import Dispatcher
from hub.core.hub import Hub
from hub.core.plugins import PluginManager
from hub.core.record import Submission
from hub.core.store.schema import deliveries
from hub.testing import POSTGRES_URL_ENV, postgres_schema, sample_submission, wait_until

LONG_POLL = 60.0  # far beyond every wait below: only a notification explains a quick start


class Recording:
    def __init__(self) -> None:
        self.delivered: list[tuple[str, float]] = []

    def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        self.delivered.append((str(record.id), time.monotonic()))
        return {}


class AdapterPlugin:
    def __init__(self, adapter: Recording):
        self.adapter = adapter

    @hub.hookimpl
    def register_adapters(self, register: Any) -> None:
        register("recording", lambda settings, hub_: self.adapter)


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        with postgres_schema("wake") as url:
            yield url
    except OperationalError as exc:  # pragma: no cover
        pytest.fail(f"PostgreSQL is required for this test ({POSTGRES_URL_ENV}): {exc}")


def make_hub(make_config, url: str, adapter: Recording, **delivery: Any) -> Hub:
    pm = PluginManager()
    pm.register(AdapterPlugin(adapter), name="recording")
    cfg = make_config(
        url,
        routes=[{"adapters": ["recording"]}],
        adapters={"recording": {}},
        delivery={"poll_interval": LONG_POLL, **delivery},
    )
    h = Hub(cfg, pm)
    h.start(intake_thread=False)
    return h


def submit(h: Hub) -> str:
    sub = Submission.model_validate(sample_submission())
    return h.intake.submit(sub, client="test").record_id


def test_a_record_accepted_elsewhere_wakes_an_idle_worker(make_config, pg_url) -> None:
    adapter = Recording()
    front = make_hub(make_config, pg_url, adapter)  # intake only: no dispatcher, no wake()
    back = make_hub(make_config, pg_url, adapter, listen_poll_interval=LONG_POLL)
    dispatcher = back.dispatcher = Dispatcher(back, 1)
    dispatcher.start()
    try:
        assert dispatcher.listener is not None
        assert dispatcher.listener.connected.wait(10)
        time.sleep(0.3)  # the worker found nothing and sleeps (its poll is a minute away)
        for _ in range(3):
            started = time.monotonic()
            rid = submit(front)
            wait_until(lambda rid=rid: rid in dict(adapter.delivered), timeout=10)
            took = dict(adapter.delivered)[rid] - started
            assert took < 5, f"delivered after {took:.1f} s: not woken by the notification"
        assert dispatcher.listener.wakeups >= 3
    finally:
        dispatcher.stop(5)
        front.close()
        back.close()


def test_a_retry_falling_due_wakes_the_worker_at_its_time(make_config, pg_url) -> None:
    """While listening, an idle worker sleeps until the next delivery's time, not a minute."""
    adapter = Recording()
    h = make_hub(make_config, pg_url, adapter, listen_poll_interval=LONG_POLL)
    rid = submit(h)
    later = hub.utcnow() + timedelta(seconds=1.5)
    with h.store.transaction() as conn:  # as if its first attempt had failed just now
        conn.execute(update(deliveries).values(next_attempt_at=later))
    assert h.store.next_due() == later
    dispatcher = h.dispatcher = Dispatcher(h, 1)
    dispatcher.start()
    try:
        assert dispatcher.listener is not None and dispatcher.listener.connected.wait(10)
        wait_until(lambda: adapter.delivered, timeout=10)
        assert adapter.delivered[0][0] == rid
    finally:
        dispatcher.stop(5)
        h.close()


def test_sqlite_has_no_listener(make_config, tmp_path) -> None:
    adapter = Recording()
    h = make_hub(make_config, f"sqlite:///{tmp_path / 'hub.db'}", adapter, poll_interval=0.1)
    dispatcher = h.dispatcher = Dispatcher(h, 1)
    dispatcher.start()
    try:
        assert dispatcher.listener is None
        rid = submit(h)
        wait_until(lambda: adapter.delivered, timeout=10)
        assert adapter.delivered[0][0] == rid
    finally:
        dispatcher.stop(5)
        h.close()
