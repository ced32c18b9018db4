"""Follow-up deliveries: what an adapter owes a record after its first delivery goes through the
one outbox (committed first, retried with backoff, dead letters, ``hub retry``, metrics)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import hub
from hub.core.hub import Hub
from hub.testing import LiveHub, PluginManager, sample_submission, wait_until

from .conftest import TOKEN


class Backend:
    """An adapter that records what it was asked to send; ``fail`` scripts errors."""

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.followed: list[tuple[str, str, Any, str]] = []
        self.fail: list[Exception] = []
        self.lock = threading.Lock()

    def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        ctx.step("send", lambda: "first-delivery-receipt")
        self.delivered.append(str(record.id))
        return {"ok": True}

    def follow_up(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        with self.lock:
            if self.fail:
                raise self.fail.pop(0)
        # The follow-up's steps are its own: "send" here is not the first delivery's "send".
        receipt = ctx.step("send", lambda: f"sent {ctx.payload['code']}")
        self.followed.append((str(record.id), ctx.task, ctx.payload, receipt))
        return {"receipt": receipt, "key": ctx.idempotency_key}


def plugin(backend: Backend) -> PluginManager:
    class Acme:
        @hub.hookimpl
        def register_adapters(self, register):
            register("acme", lambda settings, h: backend)

    pm = PluginManager()
    pm.register(Acme(), name="acme")
    return pm


def config(make_config):
    return make_config(
        adapters={"crm": {"type": "acme"}},
        routes=[{"adapters": ["crm"]}],
        delivery={"backoff_initial": 0.05, "backoff_max": 0.1, "max_attempts": 2},
    )


def submit(live: LiveHub) -> str:
    with live.client(TOKEN) as c:
        r = c.post("/v1/records", json=sample_submission())
        assert r.status_code == 202
        return r.json()["id"]


def status(h: Hub, rid: str) -> str:
    return h.store.get_record(rid).status.value


def test_a_follow_up_is_delivered_once_with_its_own_steps(make_config) -> None:
    backend = Backend()
    with LiveHub(config(make_config), plugin(backend)) as live:
        rid = submit(live)
        assert wait_until(lambda: status(live.hub, rid) == "delivered")
        backend.fail = [hub.TransientError("backend busy")]
        queued = live.hub.follow_up(rid, "crm", "code:1", {"code": "K7Q2"})
        assert queued == hub.FollowUp("code:1", {"code": "K7Q2"}, True)
        again = live.hub.follow_up(rid, "crm", "code:1", {"code": "other"})
        assert again == hub.FollowUp("code:1", {"code": "K7Q2"}, False)  # the first one
        assert wait_until(lambda: backend.followed and status(live.hub, rid) == "delivered")
        record = live.hub.store.get_record(rid)
    assert backend.followed == [(rid, "code:1", {"code": "K7Q2"}, "sent K7Q2")]
    assert backend.delivered == [rid]
    tasks = [(d.adapter, d.task, d.status.value, d.attempts) for d in record.deliveries]
    assert tasks == [("crm", None, "delivered", 1), ("crm", "code:1", "delivered", 2)]
    steps = [(h.status, h.adapter, h.detail) for h in record.history]
    assert ("follow_up", "crm", "code:1") in steps
    assert any(s == "retry" and d.startswith("follow-up code:1: attempt 1") for s, _, d in steps)
    assert ("delivered", "crm", "follow-up code:1") in steps


def test_a_refused_follow_up_is_a_dead_letter_that_hub_retry_recovers(make_config) -> None:
    backend = Backend()
    with LiveHub(config(make_config), plugin(backend)) as live:
        rid = submit(live)
        assert wait_until(lambda: status(live.hub, rid) == "delivered")
        backend.fail = [hub.PermanentError("backend refused the code")]
        live.hub.follow_up(rid, "crm", "code:2", {"code": "X"})
        assert wait_until(lambda: status(live.hub, rid) == "dead_letter")
        with live.client(TOKEN) as c:
            [dead] = c.get("/v1/dead-letters").json()["items"]
            assert (dead["adapter"], dead["task"]) == ("crm", "code:2")
            assert c.post(f"/v1/records/{rid}/retry").json()["retried"] == ["crm"]
        assert wait_until(lambda: status(live.hub, rid) == "delivered")
        sample = live.hub.metrics.registry.get_sample_value
        assert sample("hub_deliveries_dead_lettered_total", {"adapter": "crm"}) == 1
        assert sample("hub_deliveries_delivered_total", {"adapter": "crm"}) == 2
    assert [f[1] for f in backend.followed] == ["code:2"]


def test_a_follow_up_is_committed_before_it_returns(make_config) -> None:
    """Queued by a hub that stops before sending; the next hub's dispatcher sends it."""
    backend = Backend()
    cfg = config(make_config)
    with LiveHub(cfg, plugin(backend)) as live:
        rid = submit(live)
        assert wait_until(lambda: status(live.hub, rid) == "delivered")
    idle = Hub(cfg, plugin(backend))  # no dispatcher: nothing is sent here
    try:
        idle.start(intake_thread=False)
        assert idle.follow_up(rid, "crm", "reply", {"code": "R"}).created
        assert status(idle, rid) == "delivering"
    finally:
        idle.close()
    assert backend.followed == []
    with LiveHub(cfg, plugin(backend)) as live:
        assert wait_until(lambda: status(live.hub, rid) == "delivered")
    assert [f[1] for f in backend.followed] == ["reply"]


def test_follow_ups_refuse_what_cannot_be_sent(make_config) -> None:
    class NoFollowUps:
        def deliver(self, record, ctx):
            return None

    class Acme:
        @hub.hookimpl
        def register_adapters(self, register):
            register("acme", lambda settings, h: NoFollowUps())

    pm = PluginManager()
    pm.register(Acme(), name="acme")
    h = Hub(config(make_config), pm)
    h.start(intake_thread=False)
    try:
        rid = h.intake.submit(
            hub.Submission.model_validate(sample_submission()), client="test"
        ).record_id
        with pytest.raises(ValueError, match="has no follow_up"):
            h.follow_up(rid, "crm", "code:1")
        with pytest.raises(ValueError, match="not configured"):
            h.follow_up(rid, "elsewhere", "code:1")
        with pytest.raises(ValueError, match="task"):
            h.follow_up(rid, "crm", "a task with spaces")
        assert len(h.store.get_record(rid).deliveries) == 1  # nothing was queued
    finally:
        h.close()
