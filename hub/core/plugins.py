"""A typed facade over pluggy: core code never calls ``pm.hook.x`` untyped, but every call goes
through ``pm.hook.x`` (as tox 4 does it), so ``tryfirst``/``trylast``, ``wrapper=True``
implementations and pluggy's tracing and call monitoring all work.

Plugins are found only through the entry-point group ``hub`` (bundled ones too).
``HUB_DISABLE_PLUGINS=a,b`` blocks plugins by entry-point name before they are imported.

Each plain implementation is wrapped once when its plugin is registered: the wrapper names the
plugin that is running (so registrations are attributed to it) and applies the hook's error
policy — a registration or start-up failure refuses to start naming the plugin; a failing
status hook or shutdown is logged and the other plugins still run.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy
import structlog

from hub.core import hookspecs
from hub.core.errors import ConfigurationError
from hub.core.registry import (
    PHASES,
    AdapterType,
    ChannelType,
    Enricher,
    PollerType,
    Registry,
    SettingsModel,
    StatusNamespace,
    TableSet,
    _check_name,
)

if TYPE_CHECKING:  # pragma: no cover
    import click
    from fastapi import APIRouter

    from hub.core.hub import Hub

ENTRY_POINT_GROUP = "hub"
DISABLE_ENV = "HUB_DISABLE_PLUGINS"
log = structlog.get_logger("hub.plugins")


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    adapter_types: tuple[str, ...] = ()
    channel_types: tuple[str, ...] = ()
    enrichers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": list(self.hooks),
            "adapter_types": list(self.adapter_types),
            "channel_types": list(self.channel_types),
            "enrichers": list(self.enrichers),
        }


# The plugin whose implementation is running (registrations are attributed to it).
BOOKING_CALLS = ("catalogue", "free_slots", "reserve", "confirm", "cancel", "details")
_STATUS_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RUNNING: contextvars.ContextVar[str] = contextvars.ContextVar("hub_plugin", default="")
# Hooks where one plugin's failure must not stop the others: the log event to write.
_LOGGED = {
    "record_status_changed": "status_hook_failed",
    "booking_cancelled": "booking_hook_failed",
    "appointment_changed": "appointment_hook_failed",
    "einsatz_planned": "einsatz_hook_failed",
    "hub_shutdown": "plugin_shutdown_failed",
}
_REGISTRATION = frozenset(
    {
        "register_adapters",
        "register_channels",
        "register_pollers",
        "register_enrichers",
        "register_identity_providers",
        "register_payload_schemas",
        "register_tables",
        "register_settings",
        "register_services",
        "register_statuses",
        "register_attachment_backends",
        "register_booking_systems",
    }
)


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


def _attributed(plugin: str, hook: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run as ``plugin``'s implementation of ``hook``, with the hook's error policy."""

    def call(*args: Any) -> Any:
        token = _RUNNING.set(plugin)
        try:
            result = fn(*args)
        except ConfigurationError as exc:
            if hook in _REGISTRATION:
                raise ConfigurationError(f"plugin {plugin!r}: {exc}") from exc
            raise
        except Exception as exc:
            if hook in _LOGGED:
                log.error(_LOGGED[hook], plugin=plugin, error=type(exc).__name__)
                return None
            if hook == "check_health":
                return [(plugin, False, f"check failed: {type(exc).__name__}")]
            raise ConfigurationError(
                f"plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            _RUNNING.reset(token)
        if hook == "check_health" and result:
            return [(f"{plugin}: {name}", bool(ok), text) for name, ok, text in result]
        return result

    call.hub_wrapped = fn  # type: ignore[attr-defined]
    return call


def disabled_from_env(environ: dict[str, str] | None = None) -> set[str]:
    raw = (environ if environ is not None else os.environ).get(DISABLE_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


class PluginManager:
    """Loads plugins, validates their hooks and calls them with the core in control."""

    def __init__(self, *, load_entrypoints: bool = True, disabled: Iterable[str] | None = None):
        self._pm = pluggy.PluginManager("hub")
        self._pm.add_hookspecs(hookspecs)
        self.disabled = set(disabled) if disabled is not None else disabled_from_env()
        for name in self.disabled:
            self._pm.set_blocked(name)
        if load_entrypoints:
            try:
                self._pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            except pluggy.PluginValidationError as exc:
                raise ConfigurationError(f"plugin {exc.plugin!r} is invalid: {exc}") from exc
            except ImportError as exc:
                raise ConfigurationError(f"a plugin failed to import: {exc}") from exc
        for _, plugin in self._pm.list_name_plugin():
            self._attribute(plugin)
        self.check_pending()

    # --- management ---------------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object directly (tests, embedding). Entry points are the normal way."""
        try:
            self._pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise ConfigurationError(f"plugin {name or plugin!r} is invalid: {exc}") from exc
        self._attribute(plugin)
        self.check_pending()

    def _attribute(self, plugin: object) -> None:
        """Wrap the plugin's plain implementations (wrappers stay as they are: they run around
        the others and register nothing themselves)."""
        if plugin is None:
            return
        name = self._pm.get_name(plugin) or repr(plugin)
        for caller in self._pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if (
                    impl.plugin is plugin
                    and not (impl.wrapper or impl.hookwrapper)
                    and not hasattr(impl.function, "hub_wrapped")
                ):
                    impl.function = _attributed(name, caller.name, impl.function)

    def monitor(
        self,
        before: Callable[[str, list[Any], dict[str, Any]], None],
        after: Callable[[Any, str, list[Any], dict[str, Any]], None],
    ) -> Callable[[], None]:
        """Watch every hook call (pluggy's call monitoring); returns the function that stops."""
        return self._pm.add_hookcall_monitoring(before, after)

    def check_pending(self) -> None:
        """Fail on hook implementations that match no specification (a misspelled hook)."""
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise ConfigurationError(str(exc)) from exc

    def describe(self) -> list[PluginInfo]:
        """Every loaded plugin: distribution, hooks, and what its registration hooks register
        (run without a hub: registration hooks must not need one to name their types)."""
        try:
            registry = self.collect(None)  # type: ignore[arg-type]
        except ConfigurationError:
            registry = Registry()

        def owned(items: Iterable[Any], plugin: str) -> tuple[str, ...]:
            return tuple(sorted(i.name for i in items if i.plugin == plugin))

        dists = {id(plugin): dist for plugin, dist in self._pm.list_plugin_distinfo()}
        infos = []
        for name, plugin in sorted(self._pm.list_name_plugin(), key=lambda np: np[0]):
            if plugin is None:
                continue
            dist = dists.get(id(plugin))
            hooks = tuple(sorted(h.name for h in self._pm.get_hookcallers(plugin) or []))
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=dist.project_name if dist else None,
                    version=dist.version if dist else None,
                    hooks=hooks,
                    adapter_types=owned(registry.adapter_types.values(), name),
                    channel_types=owned(registry.channel_types.values(), name),
                    enrichers=owned(registry.enrichers, name),
                )
            )
        return infos

    # --- registration hooks --------------------------------------------------------------------

    def collect(self, hub: Hub) -> Registry:
        """Run every registration hook once and return what was registered."""
        reg = Registry()

        def adapter(name: str, factory: Any, *, description: str = "") -> None:
            _check_name("adapter type", name, reg.adapter_types)
            if not callable(factory):
                raise ConfigurationError(f"adapter {name!r}: factory is not callable")
            reg.adapter_types[name] = AdapterType(name, factory, description, _RUNNING.get())

        def channel(name: str, factory: Any) -> None:
            _check_name("channel", name, reg.channel_types)
            reg.channel_types[name] = ChannelType(name, factory, _RUNNING.get())

        def poller(name: str, factory: Any, *, interval: float = 30.0) -> None:
            _check_name("poller", name, reg.poller_types)
            if not callable(factory) or not interval > 0:
                raise ConfigurationError(
                    f"poller {name!r}: a callable factory and an interval > 0 seconds"
                )
            reg.poller_types[name] = PollerType(name, factory, float(interval), _RUNNING.get())

        def enricher(
            name: str,
            fn: Any,
            *,
            phase: str = "check",
            routed_only: bool = False,
            blocking: bool = True,
        ) -> None:
            _check_name("enricher", name, {e.name: e for e in reg.enrichers})
            if phase not in PHASES:
                raise ConfigurationError(
                    f"enricher {name!r}: phase {phase!r} is not one of {', '.join(PHASES)}"
                )
            reg.enrichers.append(
                Enricher(name, fn, phase, _RUNNING.get(), routed_only, bool(blocking))
            )

        def identity(name: str, provider: Any) -> None:
            _check_name("identity provider", name, reg.identity_providers)
            if not callable(getattr(provider, "identify", None)):
                raise ConfigurationError(f"identity provider {name!r} has no identify(request)")
            reg.identity_providers[name] = provider

        def booking_system(name: str, system: Any) -> None:
            _check_name("booking system", name, reg.booking_systems)
            missing = [m for m in BOOKING_CALLS if not callable(getattr(system, m, None))]
            if missing:
                raise ConfigurationError(f"booking system {name!r} has no {', '.join(missing)}")
            reg.booking_systems[name] = system

        def payload_schema(pattern: str, schema: Any) -> None:
            reg.payload_schemas.register(pattern, schema, _RUNNING.get())

        def tables(
            migrations: Any, *, metadata: Any = None, version_table: str | None = None
        ) -> None:
            from hub.core.store.migrate import CORE_VERSION_TABLE  # alembic: only when used

            if hasattr(migrations, "metadata"):  # a tables module: migrations/ beside it
                module = migrations
                metadata, version_table = module.metadata, module.VERSION_TABLE
                migrations = Path(module.__file__).parent / "migrations"
            if metadata is None or not version_table:
                raise ConfigurationError(
                    "tables: give a tables module, or metadata and version_table"
                )
            taken = {t.version_table for t in reg.tables} | {CORE_VERSION_TABLE}
            if version_table in taken:
                raise ConfigurationError(f"version table {version_table!r} is already in use")
            if not (Path(migrations) / "env.py").is_file():
                raise ConfigurationError(f"{migrations} is not an Alembic history (no env.py)")
            reg.tables.append(TableSet(Path(migrations), metadata, version_table, _RUNNING.get()))

        def settings(
            model: Any,
            *,
            adapter_type: str | None = None,
            channel_type: str | None = None,
            poller_type: str | None = None,
        ) -> None:
            if sum(bool(k) for k in (adapter_type, channel_type, poller_type)) > 1:
                raise ConfigurationError("settings: one of adapter_type, channel_type, poller_type")
            if not hasattr(model, "model_validate"):
                raise ConfigurationError(f"settings model {model!r} is not a pydantic model")
            key = (
                f"adapters:{adapter_type}"
                if adapter_type
                else f"channels.{channel_type}"
                if channel_type
                else f"pollers.{poller_type}"
                if poller_type
                else f"plugins.{_RUNNING.get()}"
            )
            if key in reg.settings:
                raise ConfigurationError(f"settings for {key} are registered twice")
            reg.settings[key] = SettingsModel(key, model, _RUNNING.get())

        def statuses(
            namespace: str,
            found: Mapping[str, str],
            *,
            final: Iterable[str] = (),
            media_break: Iterable[str] = (),
        ) -> None:
            if not _STATUS_NAME.match(namespace) or not found:
                raise ConfigurationError(
                    f"statuses {namespace!r}: a lower-case namespace and at least one status"
                )
            bad = [n for n in found if not _STATUS_NAME.match(n)]
            if bad:
                raise ConfigurationError(f"statuses {namespace!r}: bad names {bad}")
            owner = reg.statuses.get(namespace)
            if owner is not None:
                raise ConfigurationError(
                    f"status namespace {namespace!r} is already registered by {owner.plugin!r}"
                )
            traits = {"final": frozenset(final), "media_break": frozenset(media_break)}
            for trait, names in traits.items():
                if unknown := sorted(names - set(found)):
                    raise ConfigurationError(
                        f"statuses {namespace!r}: {trait} names unregistered {unknown}"
                    )
            reg.statuses[namespace] = StatusNamespace(
                namespace, dict(found), _RUNNING.get(), **traits
            )

        hook = self._pm.hook
        hook.register_adapters(register=adapter)
        hook.register_channels(register=channel)
        hook.register_pollers(register=poller)
        hook.register_enrichers(register=enricher)
        hook.register_identity_providers(register=identity, hub=hub)
        hook.register_booking_systems(register=booking_system, hub=hub)
        hook.register_payload_schemas(register=payload_schema)
        hook.register_tables(register=tables)
        hook.register_settings(register=settings)
        hook.register_statuses(register=statuses)
        # Without a hub (listing plugins) there is no store to hand backends to.
        backends = hub.attachments.register_backend if hub is not None else _ignore
        hook.register_attachment_backends(register=backends, hub=hub)
        reg.enrichers.sort(key=lambda e: PHASES.index(e.phase))  # stable: pluggy's call order
        return reg

    def console_pages(self, hub: Hub) -> list[Any]:
        """The console pages plugins add, checked: unique names and paths, a known scope."""
        from hub.core.console.pages import ConsolePage

        found: list[ConsolePage] = []

        def register(page: Any) -> None:
            if not isinstance(page, ConsolePage):
                raise ConfigurationError(f"console page {page!r} is not a hub.ConsolePage")
            if not re.match(r"^/[a-z0-9][a-z0-9\-/]*$", page.path) or page.path.startswith(
                ("/login", "/logout", "/records", "/dead-letters", "/health", "/audit", "/static")
            ):
                raise ConfigurationError(f"console page {page.name!r}: path {page.path!r} is taken")
            if page.scope not in ("records:read", "records:write", "admin"):
                raise ConfigurationError(
                    f"console page {page.name!r}: unknown scope {page.scope!r}"
                )
            if any(p.name == page.name or p.path == page.path for p in found):
                raise ConfigurationError(f"console page {page.name!r} is registered twice")
            if "de" not in page.title:
                raise ConfigurationError(f"console page {page.name!r}: a German title is needed")
            found.append(page)

        self._pm.hook.register_console_pages(register=register, hub=hub)
        return found

    def routers(self, hub: Hub) -> list[APIRouter]:
        found: list[APIRouter] = []
        self._pm.hook.register_routes(register=found.append, hub=hub)
        return found

    def add_commands(self, cli: click.Group) -> None:
        self._pm.hook.register_commands(cli=cli)

    # --- lifecycle and notifications ------------------------------------------------------------

    def startup(self, hub: Hub) -> None:
        self._pm.hook.hub_startup(hub=hub)

    def services(self, hub: Hub) -> list[tuple[str, Any, bool]]:
        """``(name, service, dev_only)`` of every registered background service."""
        found: list[tuple[str, Any, bool]] = []

        def register(name: str, service: Any, *, dev_only: bool = False) -> None:
            if not (callable(getattr(service, "start", None)) and callable(service.stop)):
                raise ConfigurationError(f"service {name!r} needs start() and stop()")
            if name in {n for n, _, _ in found}:
                raise ConfigurationError(f"service {name!r} is registered twice")
            found.append((name, service, dev_only))

        self._pm.hook.register_services(register=register, hub=hub)
        return found

    def health(self, hub: Hub) -> list[tuple[str, bool, str]]:
        """Every plugin's ``check_health`` results, named ``<plugin>: <check>``."""
        return [item for found in self._pm.hook.check_health(hub=hub) for item in found]

    def shutdown(self, hub: Hub) -> None:
        self._pm.hook.hub_shutdown(hub=hub)  # each failure is logged; the others still run

    def booking_cancelled(self, hub: Hub, system: str, process_id: str, reason: str) -> None:
        self._pm.hook.booking_cancelled(
            hub=hub, system=system, process_id=process_id, reason=reason
        )

    def appointment_changed(self, hub: Hub, change: Any) -> None:
        self._pm.hook.appointment_changed(hub=hub, change=change)

    def einsatz_planned(self, hub: Hub, plan: Any) -> None:
        self._pm.hook.einsatz_planned(hub=hub, plan=plan)

    def status_changed(
        self, hub: Hub, record_id: str, status: str, adapter: str | None, detail: str | None
    ) -> None:
        if not self._pm.hook.record_status_changed.get_hookimpls():
            return  # the common case, on the hot path of intake and delivery
        self._pm.hook.record_status_changed(
            hub=hub, record_id=record_id, status=status, adapter=adapter, detail=detail
        )
