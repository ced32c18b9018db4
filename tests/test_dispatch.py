"""Delivery workers with adapters registered through the real hooks."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

import hub
from hub.core.dispatch import Dispatcher, backoff_delay
from hub.core.hub import Hub
from hub.core.plugins import PluginManager
from hub.core.record import Submission
from hub.testing import sample_submission, wait_until


class ScriptedAdapter:
    """Fails as told, then succeeds; remembers every call."""

    def __init__(self, script: list[BaseException | None]):
        self.script = list(script)
        self.calls: list[tuple[str, int]] = []
        self.side_effects: list[str] = []
        self.lock = threading.Lock()

    def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        with self.lock:
            self.calls.append((str(record.id), ctx.attempt))
            outcome = self.script.pop(0) if self.script else None
        # A checkpointed side effect: must happen once even though deliver runs again.
        ctx.step("create", lambda: self.side_effects.append(str(record.id)) or "created")
        if outcome is not None:
            raise outcome
        return {"attempt": ctx.attempt}


class AdapterPlugin:
    def __init__(self, **adapters: ScriptedAdapter):
        self.adapters = adapters
        self.status_events: list[tuple[str, str, str | None]] = []

    @hub.hookimpl
    def register_adapters(self, register: Any) -> None:
        for name, adapter in self.adapters.items():
            register(name, lambda settings, hub_, a=adapter: a)

    @hub.hookimpl
    def record_status_changed(self, record_id: str, status: str, adapter: str | None) -> None:
        self.status_events.append((record_id, status, adapter))


def run_hub(make_config, plugin: AdapterPlugin, routes: list[str], **delivery: Any) -> Hub:
    pm = PluginManager()
    pm.register(plugin, name="scripted")
    cfg = make_config(
        routes=[{"adapters": routes}],
        adapters={name: {} for name in plugin.adapters},
        delivery=delivery,
    )
    h = Hub(cfg, pm)
    h.start()
    h.dispatcher = Dispatcher(h)
    h.dispatcher.start()
    return h


def submit(h: Hub, **overrides: Any) -> str:
    sub = Submission.model_validate(sample_submission(**overrides))
    return h.intake.submit(sub, client="test").record_id


def status_of(h: Hub, rid: str) -> str:
    return h.store.get_record(rid).status.value


def test_transient_errors_are_retried_and_side_effects_run_once(make_config) -> None:
    adapter = ScriptedAdapter([hub.TransientError("503"), hub.TransientError("timeout"), None])
    plugin = AdapterPlugin(backend=adapter)
    h = run_hub(make_config, plugin, ["backend"])
    try:
        rid = submit(h)
        assert wait_until(lambda: status_of(h, rid) == "delivered")
        rec = h.store.get_record(rid)
    finally:
        h.dispatcher.stop(5)
        h.close()
    assert [a for _, a in adapter.calls] == [1, 2, 3]
    assert adapter.side_effects == [rid]
    statuses = [e.status for e in rec.history]
    assert statuses.count("retry") == 2 and statuses[-1] == "delivered"
    assert rec.deliveries[0].attempts == 3
    assert (rid, "delivered", "backend") in plugin.status_events
    assert (rid, "delivered", None) in plugin.status_events


def test_permanent_error_dead_letters_at_once(make_config) -> None:
    adapter = ScriptedAdapter([hub.PermanentError("recipient unknown")])
    h = run_hub(make_config, AdapterPlugin(backend=adapter), ["backend"])
    try:
        rid = submit(h)
        assert wait_until(lambda: status_of(h, rid) == "dead_letter")
        rec = h.store.get_record(rid)
        assert "recipient unknown" in rec.deliveries[0].last_error
        assert len(adapter.calls) == 1
    finally:
        h.dispatcher.stop(5)
        h.close()


def test_attempt_limit_dead_letters_and_manual_retry_delivers(make_config) -> None:
    adapter = ScriptedAdapter([hub.TransientError("down")] * 3)
    h = run_hub(make_config, AdapterPlugin(backend=adapter), ["backend"], max_attempts=3)
    try:
        rid = submit(h)
        assert wait_until(lambda: status_of(h, rid) == "dead_letter")
        assert len(adapter.calls) == 3
        assert "gave up after 3 attempt(s)" in h.store.get_record(rid).deliveries[0].last_error
        h.notify(h.store.retry_dead_letters(rid))
        h.dispatcher.wake()
        assert wait_until(lambda: status_of(h, rid) == "delivered")
        assert len(adapter.calls) == 4
    finally:
        h.dispatcher.stop(5)
        h.close()


def test_unexpected_exception_is_retried_and_its_message_not_kept(make_config) -> None:
    adapter = ScriptedAdapter([KeyError("Mustermann")])
    h = run_hub(make_config, AdapterPlugin(backend=adapter), ["backend"])
    try:
        with capture_logs() as logs:
            rid = submit(h)
            assert wait_until(lambda: status_of(h, rid) == "delivered")
        rec = h.store.get_record(rid)
        retry = next(e for e in rec.history if e.status == "retry")
        assert "KeyError" in retry.detail and "Mustermann" not in retry.detail
        assert "Mustermann" not in repr(logs)
        assert any(e.get("record_id") == rid for e in logs)
    finally:
        h.dispatcher.stop(5)
        h.close()


def test_fan_out_delivers_each_adapter_independently(make_config) -> None:
    good = ScriptedAdapter([])
    flaky = ScriptedAdapter([hub.TransientError("x")])
    h = run_hub(make_config, AdapterPlugin(good=good, flaky=flaky), ["good", "flaky"])
    try:
        rid = submit(h)
        assert wait_until(lambda: status_of(h, rid) == "delivered")
        rec = h.store.get_record(rid)
        assert {d.adapter: d.attempts for d in rec.deliveries} == {"good": 1, "flaky": 2}
    finally:
        h.dispatcher.stop(5)
        h.close()


def test_max_age_dead_letters_even_with_attempts_left(make_config) -> None:
    adapter = ScriptedAdapter([hub.TransientError("down")] * 10)
    h = run_hub(make_config, AdapterPlugin(backend=adapter), ["backend"], max_age_seconds=0.01)
    try:
        rid = submit(h)
        assert wait_until(lambda: status_of(h, rid) == "dead_letter")
        assert len(adapter.calls) == 1
    finally:
        h.dispatcher.stop(5)
        h.close()


def test_sigterm_style_stop_drains_the_delivery_in_flight(make_config) -> None:
    gate = threading.Event()

    class Slow:
        def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> None:
            gate.wait(5)

    plugin = AdapterPlugin()
    plugin.adapters = {"slow": Slow()}  # type: ignore[dict-item]
    h = run_hub(make_config, plugin, ["slow"], workers=1)
    rid = submit(h)
    assert wait_until(lambda: status_of(h, rid) == "delivering")
    threading.Timer(0.3, gate.set).start()
    assert h.dispatcher.stop(10) is True
    assert status_of(h, rid) == "delivered"
    h.close()


@pytest.mark.parametrize("attempt", [1, 2, 5, 20])
def test_backoff_is_exponential_jittered_and_capped(attempt: int) -> None:
    rng = random.Random(7)
    delays = [backoff_delay(attempt, 1.0, 60.0, rng) for _ in range(200)]
    ceiling = min(60.0, 2 ** (attempt - 1))
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not constant


def test_retry_after_is_honoured(make_config) -> None:
    adapter = ScriptedAdapter([hub.TransientError("429", retry_after=0.6), None])
    h = run_hub(make_config, AdapterPlugin(backend=adapter), ["backend"], backoff_max=5)
    try:
        rid = submit(h)
        assert wait_until(lambda: status_of(h, rid) == "delivered")
        rec = h.store.get_record(rid)
        retry_at = next(e.at for e in rec.history if e.status == "retry")
        delivered_at = rec.deliveries[0].delivered_at
        assert (delivered_at - retry_at).total_seconds() >= 0.55
    finally:
        h.dispatcher.stop(5)
        h.close()


def test_personal_keys_are_redacted_by_the_log_processor() -> None:
    from hub.core.logging import drop_personal_data

    event = drop_personal_data(
        None, "info", {"event": "x", "family_name": "Mustermann", "record_id": "r1"}
    )
    assert event == {"event": "x", "family_name": "[redacted]", "record_id": "r1"}


def _hub_with(make_config, adapter: Any, **delivery: Any) -> Hub:
    plugin = AdapterPlugin()
    plugin.adapters = {"gated": adapter}  # type: ignore[dict-item]
    pm = PluginManager()
    pm.register(plugin, name="scripted")
    cfg = make_config(routes=[{"adapters": ["gated"]}], adapters={"gated": {}}, delivery=delivery)
    h = Hub(cfg, pm)
    h.start()
    return h


def test_outcomes_are_recorded_as_they_come_not_after_the_batch(make_config) -> None:
    """A crash repeats at most what was in flight: the first deliveries of a batch are
    recorded while a later one still runs."""
    gate = threading.Event()
    seen: list[str] = []

    class Gated:
        def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> None:
            seen.append(str(record.id))
            if len(seen) == 3:
                gate.wait(10)

    h = _hub_with(make_config, Gated(), workers=1, batch_size=8, complete_every=1)
    rids = [submit(h) for _ in range(5)]
    h.dispatcher = Dispatcher(h)
    h.dispatcher.start()
    try:
        assert wait_until(lambda: len(seen) == 3)
        done = [rid for rid in rids if status_of(h, rid) == "delivered"]
        assert done == seen[:2]  # recorded while the third is still being delivered
    finally:
        gate.set()
        h.dispatcher.stop(10)
        h.close()


def test_an_item_whose_lease_another_worker_took_is_not_started(make_config) -> None:
    """The renewal keeps the held leases ours; one it could not extend (taken over meanwhile)
    is left alone instead of being delivered twice at the same time."""
    from sqlalchemy import update

    from hub.core.store.schema import deliveries

    release = threading.Event()
    seen: list[str] = []

    class Slow:
        def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> None:
            seen.append(str(record.id))
            release.wait(10)

    h = _hub_with(make_config, Slow(), workers=1, batch_size=2, lease_seconds=0.6, timeout=0.5)
    first, second = submit(h), submit(h)
    h.dispatcher = Dispatcher(h)
    h.dispatcher.start()
    try:
        assert wait_until(lambda: len(seen) == 1)
        other = second if seen[0] == first else first
        with h.store.engine.begin() as conn:  # another worker takes the second lease over
            conn.execute(
                update(deliveries)
                .where(deliveries.c.record_id == other)
                .values(lease_owner="thief", lease_expires_at=hub.utcnow() + timedelta(hours=1))
            )
        threading.Timer(1.2, release.set).start()  # well past the 0.6 s lease
        assert wait_until(lambda: status_of(h, seen[0]) == "delivered", timeout=10)
        # the loop decided about the second one before recording the first
        assert seen == [seen[0]]  # the second one was not started by this worker
        with h.store.reading() as conn:
            owner = conn.execute(
                select(deliveries.c.lease_owner).where(deliveries.c.record_id == other)
            ).scalar()
        assert owner == "thief"
    finally:
        release.set()
        h.dispatcher.stop(10)
        h.close()
