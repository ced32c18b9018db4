"""A typed facade over pluggy: core code never calls ``pm.hook.x`` untyped.

Plugins are found only through the entry-point group ``hub`` (bundled ones too).
``HUB_DISABLE_PLUGINS=a,b`` blocks plugins by entry-point name before they are imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
    Registry,
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
        self.check_pending()

    # --- management ---------------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object directly (tests, embedding). Entry points are the normal way."""
        try:
            self._pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise ConfigurationError(f"plugin {name or plugin!r} is invalid: {exc}") from exc
        self.check_pending()

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

    def _each(self, hook_name: str) -> Iterable[tuple[str, Callable[..., Any], list[str]]]:
        caller = getattr(self._pm.hook, hook_name)
        # get_hookimpls() is in registration order (pluggy calls them in reverse): built-ins and
        # entry points first, so a later plugin's clash is reported against the earlier one.
        for impl in caller.get_hookimpls():
            yield impl.plugin_name, impl.function, list(impl.argnames)

    def _call_each(self, hook_name: str, **kwargs: Any) -> Iterable[str]:
        for plugin_name, fn, argnames in self._each(hook_name):
            try:
                fn(**{a: kwargs[a] for a in argnames})
            except ConfigurationError:
                raise
            except Exception as exc:
                raise ConfigurationError(
                    f"plugin {plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc
            yield plugin_name

    # --- registration hooks --------------------------------------------------------------------

    def collect(self, hub: Hub) -> Registry:
        """Run every registration hook once and return what was registered."""
        reg = Registry()
        current = {"plugin": ""}

        def adapter(name: str, factory: Any, *, description: str = "") -> None:
            _check_name("adapter type", name, reg.adapter_types)
            if not callable(factory):
                raise ConfigurationError(f"adapter {name!r}: factory is not callable")
            reg.adapter_types[name] = AdapterType(name, factory, description, current["plugin"])

        def channel(name: str, factory: Any) -> None:
            _check_name("channel", name, reg.channel_types)
            reg.channel_types[name] = ChannelType(name, factory, current["plugin"])

        def enricher(
            name: str, fn: Any, *, phase: str = "check", routed_only: bool = False
        ) -> None:
            _check_name("enricher", name, {e.name: e for e in reg.enrichers})
            if phase not in PHASES:
                raise ConfigurationError(
                    f"enricher {name!r}: phase {phase!r} is not one of {', '.join(PHASES)}"
                )
            reg.enrichers.append(Enricher(name, fn, phase, current["plugin"], routed_only))

        def identity(name: str, provider: Any) -> None:
            _check_name("identity provider", name, reg.identity_providers)
            if not callable(getattr(provider, "identify", None)):
                raise ConfigurationError(f"identity provider {name!r} has no identify(request)")
            reg.identity_providers[name] = provider

        def payload_schema(pattern: str, schema: Any) -> None:
            reg.payload_schemas.register(pattern, schema, current["plugin"])

        for hook, register in (
            ("register_adapters", adapter),
            ("register_channels", channel),
            ("register_enrichers", enricher),
            ("register_identity_providers", identity),
            ("register_payload_schemas", payload_schema),
        ):
            for plugin_name, fn, argnames in self._each(hook):
                current["plugin"] = plugin_name
                args = {"register": register, "hub": hub}
                try:
                    fn(**{a: args[a] for a in argnames})
                except ConfigurationError as exc:
                    raise ConfigurationError(f"plugin {plugin_name!r}: {exc}") from exc
                except Exception as exc:
                    raise ConfigurationError(
                        f"plugin {plugin_name!r} failed in {hook}: {type(exc).__name__}: {exc}"
                    ) from exc
        reg.enrichers.sort(key=lambda e: PHASES.index(e.phase))  # stable: registration order
        return reg

    def routers(self, hub: Hub) -> list[APIRouter]:
        found: list[APIRouter] = []
        list(self._call_each("register_routes", register=found.append, hub=hub))
        return found

    def add_commands(self, cli: click.Group) -> None:
        list(self._call_each("register_commands", cli=cli))

    # --- lifecycle and notifications ------------------------------------------------------------

    def startup(self, hub: Hub) -> None:
        list(self._call_each("hub_startup", hub=hub))

    def health(self, hub: Hub) -> list[tuple[str, bool, str]]:
        """Every plugin's ``check_health`` results, named ``<plugin>: <check>``."""
        found: list[tuple[str, bool, str]] = []
        for plugin_name, fn, argnames in self._each("check_health"):
            try:
                results = fn(**{a: {"hub": hub}[a] for a in argnames}) or []
                found.extend((f"{plugin_name}: {n}", bool(ok), t) for n, ok, t in results)
            except Exception as exc:
                found.append((f"{plugin_name}", False, f"check failed: {type(exc).__name__}"))
        return found

    def shutdown(self, hub: Hub) -> None:
        for plugin_name, fn, argnames in self._each("hub_shutdown"):
            try:
                fn(**{a: {"hub": hub}[a] for a in argnames})
            except Exception as exc:  # shutting down: report and carry on with the others
                log.error("plugin_shutdown_failed", plugin=plugin_name, error=type(exc).__name__)

    def status_changed(
        self, hub: Hub, record_id: str, status: str, adapter: str | None, detail: str | None
    ) -> None:
        if not self._pm.hook.record_status_changed.get_hookimpls():
            return  # the common case, on the hot path of intake and delivery
        args = {
            "hub": hub,
            "record_id": record_id,
            "status": status,
            "adapter": adapter,
            "detail": detail,
        }
        for plugin_name, fn, argnames in self._each("record_status_changed"):
            try:
                fn(**{a: args[a] for a in argnames})
            except Exception as exc:  # notifications never undo a committed change
                log.error("status_hook_failed", plugin=plugin_name, error=type(exc).__name__)
