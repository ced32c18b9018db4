"""The composition root: one :class:`Hub` holds config, plugins, store, router and intake."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from hub.core.attachments import AttachmentStore
from hub.core.config import HubConfig
from hub.core.errors import ConfigurationError
from hub.core.http import TlsSettings, build_client
from hub.core.intake import Intake
from hub.core.metrics import Metrics
from hub.core.plugins import PluginManager
from hub.core.registry import Adapter, Registry
from hub.core.routing import Router
from hub.core.state import new_slots
from hub.core.store import Accepted, IdempotencyConflict, NewRecord, StatusChange, Store

if TYPE_CHECKING:  # pragma: no cover
    from hub.core.booking import AppointmentChange, EinsatzPlan
    from hub.core.dispatch import Dispatcher

log = structlog.get_logger("hub")


_TASK = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class FollowUp:
    """A queued follow-up: its task, the payload stored for it, and whether this call
    queued it (False: it was queued before, and ``payload`` is the first one)."""

    task: str
    payload: Any
    created: bool


class Hub:
    """A configured hub. Cheap to build; :meth:`start` migrates and runs start-up hooks."""

    def __init__(
        self,
        config: HubConfig,
        plugins: PluginManager | None = None,
        *,
        http_transport: httpx.BaseTransport | None = None,
    ):
        self.config = config
        # Every HTTP client the hub hands out uses this transport when set (tests, embedding).
        self.http_transport = http_transport
        self._http_clients: list[httpx.Client] = []
        self._adapter_http: dict[str, httpx.Client] = {}
        self._http_lock = threading.Lock()
        self.plugins = plugins if plugins is not None else PluginManager()
        self.store = Store(config.store.resolved_url())
        self.attachments = AttachmentStore(config.attachments.directory, self.store)
        self.registry: Registry = self.plugins.collect(self)
        self.registry.check_settings(config)
        self.router = Router(config.routes, set(config.adapters))
        for instance in config.adapters:
            kind = config.adapter_type(instance)
            if kind not in self.registry.adapter_types:
                known = ", ".join(sorted(self.registry.adapter_types)) or "none"
                raise ConfigurationError(
                    f"[adapters.{instance}]: no plugin provides adapter type {kind!r} "
                    f"(available: {known})"
                )
        for name in config.pollers:
            if name not in self.registry.poller_types:
                known = ", ".join(sorted(self.registry.poller_types)) or "none"
                raise ConfigurationError(
                    f"[pollers.{name}]: no plugin provides this poller (available: {known})"
                )
        for name in config.channels:
            if name in self.registry.poller_types and name not in self.registry.channel_types:
                raise ConfigurationError(
                    f"[channels.{name}] follows status, it brings no records: it is a poller "
                    f"now, rename the table to [pollers.{name}]"
                )
        self.metrics = Metrics(self)
        self.intake = Intake(self)
        self.dispatcher: Dispatcher | None = None
        # Per-plugin state for this hub (see hub.PluginState), so plugins keep no globals.
        self.plugin_state = new_slots()
        self.serving = False
        self.pollers: list[Any] = []  # hub.core.pollers.PollerState, set while serving
        self._services: list[tuple[str, Any]] = []
        self._started = False
        self._lock = threading.Lock()

    @cached_property
    def http(self) -> httpx.Client:
        """The shared HTTP client (connection pooling, one timeout policy, no redirects)."""
        return build_client(
            None, timeout=self.config.delivery.timeout, transport=self.http_transport
        )

    def http_client(
        self,
        tls: TlsSettings | None = None,
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Client:
        """A client of its own for one backend (its TLS settings, timeout, default headers),
        with the hub's policy and transport; the hub closes it when it closes."""
        client = build_client(
            tls,
            timeout=timeout or self.config.delivery.timeout,
            headers=headers,
            transport=self.http_transport,
        )
        with self._http_lock:
            self._http_clients.append(client)
        return client

    def http_for(self, adapter: str) -> httpx.Client:
        """``ctx.http`` of an adapter instance: a client with the instance's TLS settings when
        its settings model is a :class:`hub.TlsSettings` that sets any, else the shared one."""
        with self._http_lock:
            found = self._adapter_http.get(adapter)
        if found is not None:
            return found
        settings = self.registry.validated.get(f"adapters.{adapter}")
        if not (isinstance(settings, TlsSettings) and settings.tls_configured):
            return self.http
        try:
            client = self.http_client(settings, timeout=getattr(settings, "timeout", None))
        except ConfigurationError as exc:
            raise ConfigurationError(f"[adapters.{adapter}] {exc}") from None
        with self._http_lock:
            return self._adapter_http.setdefault(adapter, client)

    @cached_property
    def adapters(self) -> dict[str, Adapter]:
        """Adapter instances by name, built on first use (admin commands never need them)."""
        built: dict[str, Adapter] = {}
        for instance, settings in self.config.adapters.items():
            kind = self.registry.adapter_types[self.config.adapter_type(instance)]
            try:
                adapter = kind.factory(dict(settings), self)
            except ConfigurationError as exc:
                raise ConfigurationError(f"[adapters.{instance}]: {exc}") from exc
            if not callable(getattr(adapter, "deliver", None)):
                raise ConfigurationError(f"[adapters.{instance}]: {kind.name} has no deliver()")
            self.http_for(instance)  # unreadable TLS files refuse the start, not a delivery
            built[instance] = adapter
        return built

    # --- lifecycle -----------------------------------------------------------------------------

    def _require_current_schema(self) -> None:
        """With ``auto_migrate = false`` nothing is migrated at start: refuse clearly when a
        history is behind, instead of failing on a missing table later."""
        from hub.core.store.migrate import MIGRATIONS, current_revision, head_revision

        histories = [("core", MIGRATIONS, "alembic_version")] + [
            (t.plugin, t.migrations, t.version_table) for t in self.registry.tables
        ]
        behind = [
            name
            for name, location, table in histories
            if current_revision(self.store.engine, version_table=table) != head_revision(location)
        ]
        if behind:
            raise ConfigurationError(
                f"store.auto_migrate is off and the schema is not current ({', '.join(behind)}): "
                "run `hub db upgrade`"
            )

    def migrate(self) -> dict[str, str | None]:
        """Upgrade the core's schema and every plugin's tables; returns each history's
        revision (``core`` and ``<plugin>``)."""
        from hub.core.store.migrate import current_revision, upgrade

        self.store.migrate()
        revisions = {"core": current_revision(self.store.engine)}
        for tables in self.registry.tables:
            upgrade(
                self.store.engine,
                script_location=tables.migrations,
                metadata=tables.metadata,
                version_table=tables.version_table,
            )
            revisions[tables.plugin] = current_revision(
                self.store.engine, version_table=tables.version_table
            )
        return revisions

    def start(self, *, intake_thread: bool = True) -> None:
        with self._lock:
            if self._started:
                return
            self.store.reachable()
            if self.config.store.auto_migrate:
                self.migrate()
            else:
                self._require_current_schema()
            # Serving (hub serve, LiveHub) rather than a one-off command or a worker: plugins
            # start their background services (simulators, janitors) only then.
            self.serving = intake_thread
            self.plugins.startup(self)
            if self.serving:
                self._start_services()
            if intake_thread:
                self.intake.committer.start()
            self._started = True

    def _start_services(self) -> None:
        for name, service, dev_only in self.plugins.services(self):
            if dev_only:
                log.warning("development_service_started", service=name)
            service.start()
            self._services.append((name, service))

    def close(self) -> None:
        with self._lock:
            self.intake.committer.stop()
            while self._services:
                name, service = self._services.pop()
                try:
                    service.stop()
                except Exception as exc:  # stopping: report and stop the others
                    log.error("service_stop_failed", service=name, error=type(exc).__name__)
            if self._started:
                self.plugins.shutdown(self)
                self._started = False
            if "http" in self.__dict__:
                self.http.close()
            with self._http_lock:
                for client in self._http_clients:
                    client.close()
                self._http_clients.clear()
                self._adapter_http.clear()
            self.store.dispose()

    # --- notifications -------------------------------------------------------------------------

    def after_intake(self, results: list[tuple[NewRecord, Accepted | IdempotencyConflict]]) -> None:
        fresh = [(item, r) for item, r in results if isinstance(r, Accepted) and not r.replayed]
        for item, _ in fresh:
            self.metrics.accepted.labels(item.record.channel.value).inc()
        if fresh:
            if self.dispatcher is not None:
                self.dispatcher.wake()
            self.notify(StatusChange(r.record_id, "accepted", None) for _, r in fresh)

    def notify(self, changes: Iterable[StatusChange]) -> None:
        for change in changes:
            self.plugins.status_changed(
                self, change.record_id, change.status, change.adapter, change.detail
            )

    def report_status(
        self,
        record_id: str,
        status: str,
        detail: str | None = None,
        adapter: str | None = None,
        *,
        key: str | None = None,
        adapter_type: str | None = None,
    ) -> bool:
        """Record a status reported by a backend or channel and tell the status hooks.

        ``adapter`` names the delivery (the adapter instance, ``[adapters.<name>]``); a plugin
        that knows only its adapter type passes ``adapter_type`` and the record's delivery of
        that type is named. With ``key`` (e.g. the id of the answer message) the report is
        applied at most once: an answer fetched again after a crash returns False and changes
        nothing. Raises ``KeyError`` for an unknown record and ``ValueError`` for a status no
        plugin registered (``register_statuses``).
        """
        self.registry.check_status(status)
        if self.store.record_owner(record_id) is None:
            raise KeyError(record_id)
        if adapter is None and adapter_type is not None:
            adapter = self.delivery_of(record_id, adapter_type) or adapter_type
        if not self.store.add_history(record_id, status, adapter, detail, key=key):
            return False
        self.notify([StatusChange(record_id, status, adapter, detail)])
        return True

    def retry(self, record_id: str) -> list[str]:
        """Queue a record's dead-lettered deliveries again with fresh attempts; returns the
        adapter instances retried (empty: nothing was dead-lettered). The API, the CLI and the
        console all retry through here."""
        changes = self.store.retry_dead_letters(record_id)
        if changes:
            self.notify(changes)
            if self.dispatcher is not None:
                self.dispatcher.wake()
        return sorted({c.adapter for c in changes if c.adapter})

    def booking_cancelled(self, system: str, process_id: str, reason: str) -> None:
        """Tell the plugins (``booking_cancelled``) that booking system ``system`` cancelled
        ``process_id`` on its own side; ``reason`` is for the citizen, without personal data."""
        self.plugins.booking_cancelled(self, system, process_id, reason)

    def appointment_changed(self, change: AppointmentChange) -> None:
        """Tell the plugins (``appointment_changed``) what became of an appointment, once the
        change is durable where the appointment is kept."""
        self.plugins.appointment_changed(self, change)

    def einsatz_planned(self, plan: EinsatzPlan) -> None:
        """Tell the plugins (``einsatz_planned``) an Einsatz as it is planned now."""
        self.plugins.einsatz_planned(self, plan)

    def status_traits(self, status: str) -> frozenset[str]:
        """What a history status means for reports: ``final`` (the back office's last word
        on the case) and/or ``media_break`` (the case left the electronic path), as the
        plugin that owns the status registered it (``register_statuses``)."""
        return self.registry.status_traits(status)

    def deliver_due(self, batch: int = 64) -> int:
        """Deliver what is due now in the calling thread until nothing due is left, through
        the same leases and adapters as the workers (tools, replays of history; a running
        daemon's workers do this all the time). Returns the deliveries attempted."""
        return (self.dispatcher or self._drainer).drain(batch)

    @cached_property
    def _drainer(self) -> Dispatcher:
        """A dispatcher without threads for :meth:`deliver_due` (made once: a replay calls
        it for every record)."""
        from hub.core.dispatch import Dispatcher

        return Dispatcher(self, workers=0)

    def follow_up(self, record_id: str, adapter: str, task: str, payload: Any = None) -> FollowUp:
        """Queue a follow-up delivery: something adapter instance ``adapter`` owes the record
        after its first delivery (the citizen's code, a reply). It goes through the outbox
        like every delivery — committed before this returns, retried with backoff, dead
        letters, metrics, ``hub retry`` — and the dispatcher calls the adapter's
        ``follow_up(record, ctx)`` with ``ctx.task`` and ``ctx.payload`` (JSON). ``task``
        names it within the record and adapter: queueing the same task again changes nothing
        and returns the payload stored the first time.

        Raises ``KeyError`` for an unknown record and ``ValueError`` for an instance that is
        not configured or has no ``follow_up`` method, or a task name that does not fit.
        """
        if not _TASK.match(task):
            raise ValueError(f"task {task!r}: 1–64 characters of [A-Za-z0-9_.:-]")
        if adapter not in self.config.adapters:
            raise ValueError(f"adapter instance {adapter!r} is not configured")
        if not callable(getattr(self.adapters[adapter], "follow_up", None)):
            raise ValueError(f"adapter instance {adapter!r} has no follow_up(record, ctx)")
        if self.store.record_owner(record_id) is None:
            raise KeyError(record_id)
        created, stored, changes = self.store.add_follow_up(
            record_id, adapter, task, json.dumps(payload)
        )
        if changes:
            self.notify(changes)
        if created and self.dispatcher is not None:
            self.dispatcher.wake()
        return FollowUp(task, json.loads(stored) if stored else None, created)

    def delivery_of(self, record_id: str, adapter_type: str) -> str | None:
        """The adapter instance of type ``adapter_type`` that the record is delivered to."""
        record = self.store.get_record(record_id)
        for delivery in record.deliveries if record else ():
            if self.config.adapter_type(delivery.adapter) == adapter_type:
                return delivery.adapter
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "adapters": {name: self.config.adapter_type(name) for name in self.config.adapters},
            "adapter_types": sorted(self.registry.adapter_types),
            "payload_schemas": self.registry.payload_schemas.patterns(),
            "enrichers": [e.name for e in self.registry.enrichers],
        }
