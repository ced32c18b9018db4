"""The hub's clock: a replay of history stamps what it feeds with the simulated time, through
the real intake and the real delivery path; hooks about appointments and Einsätze reach the
plugins."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

import hub
from hub.core.hub import Hub
from hub.testing import PluginManager, sample_submission


@pytest.fixture
def h(make_config, store_url):
    hub_ = Hub(make_config(store_url, delivery={"workers": 0}))
    hub_.start(intake_thread=False)
    yield hub_
    hub_.close()


def test_a_simulated_clock_stamps_intake_delivery_and_history(h: Hub, tmp_path) -> None:
    start = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    with hub.SimulatedClock(start) as clock:
        rid = h.intake.submit(
            hub.Submission.model_validate(sample_submission()), client="portal"
        ).record_id
        clock.advance(timedelta(minutes=42))
        assert h.deliver_due() == 1
        assert h.deliver_due() == 0  # nothing due is left
    record = h.store.get_record(rid)
    assert record is not None and record.status == hub.RecordStatus.delivered
    assert record.received_at == start
    delivered = [e for e in record.history if e.status == "delivered"]
    assert delivered and all(e.at == start + timedelta(minutes=42) for e in delivered)
    written = json.loads((tmp_path / "outbox" / f"{rid}.json").read_text())
    assert written["id"] == rid
    # Outside the replay the clock is the system's again.
    assert abs(hub.utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_one_simulated_clock_at_a_time_and_times_with_their_zone() -> None:
    with hub.SimulatedClock(datetime(2025, 1, 1, tzinfo=UTC)):
        with pytest.raises(RuntimeError, match="installed already"):
            hub.SimulatedClock(datetime(2025, 1, 2, tzinfo=UTC)).__enter__()
        assert hub.utcnow() == datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="time zone"):
        hub.SimulatedClock(datetime(2025, 1, 1))


def test_appointment_and_einsatz_news_reach_every_plugin_and_a_failure_stays_local(
    make_config,
) -> None:
    heard: list[object] = []

    class Broken:
        @hub.hookimpl
        def appointment_changed(self, hub, change):
            raise RuntimeError("boom")

        @hub.hookimpl
        def einsatz_planned(self, hub, plan):
            raise RuntimeError("boom")

    class Counter:
        @hub.hookimpl
        def appointment_changed(self, hub, change):
            heard.append(change)

        @hub.hookimpl
        def einsatz_planned(self, hub, plan):
            heard.append(plan)

    pm = PluginManager()
    pm.register(Broken(), name="broken")
    pm.register(Counter(), name="counter")
    h = Hub(make_config(), pm)
    try:
        change = hub.AppointmentChange(
            "a1", "no_show", "zms", "10", "051110000000",
            datetime(2025, 5, 6, 8, tzinfo=UTC), "online", ("99102012104000",),
        )  # fmt: skip
        plan = hub.EinsatzPlan(
            "e1", "buergermobil", "Tour", "Marktplatz", "051130000000", 51.45, 7.01,
            {date(2025, 5, 6): 24},
        )  # fmt: skip
        h.appointment_changed(change)
        h.einsatz_planned(plan)
    finally:
        h.close()
    assert heard == [change, plan]
