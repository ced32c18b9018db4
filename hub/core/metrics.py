"""Prometheus metrics, one registry per hub (several hubs in one test process stay apart)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.core.store import Outcome, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from hub.core.hub import Hub

_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)


class _RecordsByStatus(Collector):
    """Counts from the store at scrape time: right across every process sharing it."""

    def __init__(self, hub: Hub):
        self._hub = hub

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "hub_records", "Records in the store by status", labels=["status"]
        )
        try:
            for status, count in sorted(self._hub.store.count_by_status().items()):
                family.add_metric([status], count)
        except Exception:  # the scrape must not fail because the store is down
            pass
        yield family


class Metrics:
    def __init__(self, hub: Hub):
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "hub_records_accepted",
            "Records accepted at intake",
            ["channel"],
            registry=self.registry,
        )
        self.delivered = Counter(
            "hub_deliveries_delivered", "Deliveries completed", ["adapter"], registry=self.registry
        )
        self.failed = Counter(
            "hub_deliveries_failed",
            "Delivery attempts that failed (retried)",
            ["adapter"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "hub_deliveries_dead_lettered",
            "Deliveries dead-lettered",
            ["adapter"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hub_delivery_latency_seconds",
            "From acceptance of the record to its delivery",
            ["adapter"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.call = Histogram(
            "hub_adapter_call_seconds",
            "Duration of one deliver() call",
            ["adapter"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "hub_submissions_rejected",
            "Submissions refused at intake, by channel and the first rule broken",
            ["channel", "rule"],
            registry=self.registry,
        )
        self.registry.register(_RecordsByStatus(hub))
        self._extra: dict[str, Counter] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter of this hub's registry for plugins, made on first use (same name, same
        counter): ``hub.metrics.counter("hub_x_total", "...", ["state"]).labels(s).inc()``."""
        with self._lock:
            found = self._extra.get(name)
            if found is None:
                found = Counter(name, documentation, list(labels), registry=self.registry)
                self._extra[name] = found
            return found

    def observe_outcomes(self, outcomes: Iterable[Outcome]) -> None:
        now = utcnow()
        for o in outcomes:
            adapter = o.lease.adapter
            if o.kind == "delivered":
                self.delivered.labels(adapter).inc()
                self.latency.labels(adapter).observe((now - o.lease.received_at).total_seconds())
            elif o.kind == "retry":
                self.failed.labels(adapter).inc()
            else:
                self.failed.labels(adapter).inc()
                self.dead_lettered.labels(adapter).inc()

    def delivery_seconds(self, adapter: str, seconds: float) -> None:
        self.call.labels(adapter).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
