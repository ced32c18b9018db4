"""What plugins register, and the callbacks they register it with.

Each ``register`` callback checks names and shapes at once, so a broken plugin fails at start-up
with its own name in the message rather than later in a worker.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import jsonschema
from jsonschema.validators import Draft202012Validator

from hub.core.errors import ConfigurationError, FieldProblem
from hub.core.record import Identity

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import APIRouter
    from starlette.requests import Request

    from hub.core.context import DeliveryContext, EnrichContext
    from hub.core.hub import Hub
    from hub.core.record import Record

_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


def _check_name(kind: str, name: str, taken: Mapping[str, Any]) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"{kind} name {name!r} must match {_NAME.pattern}")
    if name in taken:
        first = getattr(taken[name], "plugin", "")
        by = f" (first by plugin {first!r})" if first else ""
        raise ConfigurationError(f"{kind} {name!r} is registered twice{by}")


# --- adapters --------------------------------------------------------------------------------


@runtime_checkable
class Adapter(Protocol):
    """A configured adapter instance. ``check(ctx)`` is optional (used by ``hub doctor``)."""

    def deliver(self, record: Record, ctx: DeliveryContext) -> dict[str, Any] | None: ...


AdapterFactory = Callable[[dict[str, Any], "Hub"], Adapter]


@dataclass(frozen=True)
class AdapterType:
    name: str
    factory: AdapterFactory
    description: str = ""
    plugin: str = ""


class RegisterAdapter(Protocol):
    def __call__(self, name: str, factory: AdapterFactory, *, description: str = "") -> None: ...


# --- channels --------------------------------------------------------------------------------


class Channel(Protocol):
    def run(self, stop: threading.Event) -> None: ...


ChannelFactory = Callable[[dict[str, Any], "Hub"], Channel]


@dataclass(frozen=True)
class ChannelType:
    name: str
    factory: ChannelFactory
    plugin: str = ""


class RegisterChannel(Protocol):
    def __call__(self, name: str, factory: ChannelFactory) -> None: ...


# --- pollers ---------------------------------------------------------------------------------


class Poller(Protocol):
    def poll(self) -> None: ...


PollerFactory = Callable[[dict[str, Any], "Hub"], Poller]


@dataclass(frozen=True)
class PollerType:
    name: str
    factory: PollerFactory
    interval: float = 30.0
    plugin: str = ""


class RegisterPoller(Protocol):
    def __call__(self, name: str, factory: PollerFactory, *, interval: float = 30.0) -> None: ...


# --- enrichers -------------------------------------------------------------------------------

EnricherFn = Callable[["Record", "EnrichContext"], None]


@dataclass(frozen=True)
class Enricher:
    name: str
    fn: EnricherFn
    phase: str = "check"
    plugin: str = ""
    routed_only: bool = False  # only for records routed to an adapter type of this plugin
    blocking: bool = True  # may wait on the network: intake runs it off the event loop


# Enrichers run phase by phase, in pluggy's call order within a phase: the catalogue fills in
# names and authorities, identity checks see the applicant, protocol checks see everything.
PHASES = ("catalogue", "identity", "check")


class RegisterEnricher(Protocol):
    def __call__(
        self,
        name: str,
        enricher: EnricherFn,
        *,
        phase: str = "check",
        routed_only: bool = False,
        blocking: bool = True,
    ) -> None: ...


# --- identity providers ----------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityClaim:
    """What an identity provider vouches for: the identity and applicant data as delivered."""

    identity: Identity
    applicant: Mapping[str, Any] = field(default_factory=dict)


class IdentityProvider(Protocol):
    def identify(self, request: Request) -> IdentityClaim | None: ...


class RegisterIdentityProvider(Protocol):
    def __call__(self, name: str, provider: IdentityProvider) -> None: ...


# --- payload schemas -------------------------------------------------------------------------

_PATTERN = re.compile(r"^99[0-9]{0,12}\*$|^99[0-9]{12}$")


class PayloadSchemas:
    """LeiKa key pattern → compiled JSON Schema; the most specific pattern wins.

    A payload is checked by a compiled validator (jsonschema-rs) on intake's hot path; only
    a payload it refuses is walked again by ``jsonschema`` for the problems it reports (field,
    keyword, message), so a valid payload costs microseconds, not milliseconds.
    """

    def __init__(self) -> None:
        self._by_pattern: dict[str, tuple[Draft202012Validator, str]] = {}
        self._fast: dict[int, Any] = {}  # id(validator) → its compiled twin

    def register(self, pattern: str, schema: Mapping[str, Any], plugin: str = "") -> None:
        if not isinstance(pattern, str) or not _PATTERN.match(pattern):
            raise ConfigurationError(
                f"payload schema pattern {pattern!r} from {plugin or 'a plugin'} must be a "
                "14-digit LeiKa key or a key prefix ending in '*'"
            )
        if pattern in self._by_pattern:
            raise ConfigurationError(f"payload schema for {pattern!r} is registered twice")
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ConfigurationError(
                f"payload schema for {pattern!r} from {plugin or 'a plugin'} is invalid: "
                f"{exc.message}"
            ) from exc
        validator = Draft202012Validator(schema)
        self._by_pattern[pattern] = (validator, plugin)
        self._fast[id(validator)] = _compiled(schema)

    def patterns(self) -> list[str]:
        return sorted(self._by_pattern)

    def for_key(
        self, leika_key: str, active: Callable[[str], bool] | None = None
    ) -> Draft202012Validator | None:
        exact = self._by_pattern.get(leika_key)
        if exact and (active is None or active(exact[1])):
            return exact[0]
        prefixes = [
            (len(pattern), validator)
            for pattern, (validator, plugin) in self._by_pattern.items()
            if pattern.endswith("*")
            and leika_key.startswith(pattern[:-1])
            and (active is None or active(plugin))
        ]
        best = max(prefixes, key=lambda pv: pv[0], default=None)
        return best[1] if best else None

    def validators(self, leika_key: str) -> tuple[Any, Draft202012Validator | None]:
        """The compiled and the walking validator for a key (tests compare them)."""
        walking = self.for_key(leika_key)
        return (self._fast.get(id(walking)) if walking else None), walking

    def problems(
        self,
        leika_key: str,
        payload: Mapping[str, Any],
        active: Callable[[str], bool] | None = None,
    ) -> list[FieldProblem]:
        """What is wrong with ``payload``; ``active(plugin)`` says whether a schema of that
        plugin applies to this record (a plugin's schema binds the records routed to it)."""
        validator = self.for_key(leika_key, active)
        if validator is None:
            return []
        fast = self._fast.get(id(validator))
        if fast is not None and fast.is_valid(payload):
            return []
        found = []
        for err in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in ("payload", *err.absolute_path))
            found.append(FieldProblem(path, f"schema:{err.validator}", err.message))
        return found


def _compiled(schema: Mapping[str, Any]) -> Any:
    """The schema compiled by jsonschema-rs (Draft 2020-12, formats as annotations like
    ``jsonschema``), or None where it cannot take it (then ``jsonschema`` alone decides)."""
    import jsonschema_rs

    try:
        return jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
    except Exception:  # a construct it does not know: the slower path stays correct
        return None


class RegisterPayloadSchema(Protocol):
    def __call__(self, pattern: str, schema: Mapping[str, Any]) -> None: ...


# --- routes ----------------------------------------------------------------------------------


class RegisterRoute(Protocol):
    def __call__(self, router: APIRouter) -> None: ...


# --- tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSet:
    """A plugin's tables: its Alembic history, run by the core like the core's own."""

    migrations: Path
    metadata: Any
    version_table: str
    plugin: str = ""


class RegisterTables(Protocol):
    def __call__(
        self, migrations: Any, *, metadata: Any = None, version_table: str | None = None
    ) -> None: ...


# --- services --------------------------------------------------------------------------------


class Service(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class RegisterService(Protocol):
    def __call__(self, name: str, service: Service, *, dev_only: bool = False) -> None: ...


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsModel:
    """A pydantic model for one kind of config table: ``plugins.<name>``, ``adapters:<type>``
    (every ``[adapters.x]`` of that type) or ``channels.<type>``."""

    table: str
    model: Any
    plugin: str = ""


# The statuses the core itself writes into a record's history (no namespace).
CORE_STATUSES = {
    "accepted": "The hub accepted the record and stored it durably",
    "delivering": "Delivery started (for the record, or for one adapter instance)",
    "retry": "A delivery attempt failed and will be repeated",
    "retry_requested": "A person queued dead-lettered deliveries again",
    "follow_up": "A follow-up message for an adapter was queued (the detail names it)",
    "delivered": "Delivered (to one adapter instance, or to every one)",
    "dead_letter": "Delivery gave up; a person has to look (hub retry)",
}


class RegisterAttachmentBackend(Protocol):
    def __call__(self, name: str, backend: Any) -> None: ...


class RegisterStatuses(Protocol):
    def __call__(
        self,
        namespace: str,
        statuses: Mapping[str, str],
        *,
        final: Iterable[str] = (),
        media_break: Iterable[str] = (),
    ) -> None: ...


@dataclass(frozen=True)
class StatusNamespace:
    """Statuses a plugin reports as ``<namespace>:<name>``, each with what it means; which
    of them are the back office's last word (``final``) and which mean the case left the
    electronic path (``media_break``)."""

    namespace: str
    statuses: Mapping[str, str]
    plugin: str = ""
    final: frozenset[str] = frozenset()
    media_break: frozenset[str] = frozenset()


class RegisterSettings(Protocol):
    def __call__(
        self,
        model: Any,
        *,
        adapter_type: str | None = None,
        channel_type: str | None = None,
        poller_type: str | None = None,
    ) -> None: ...


@dataclass
class Registry:
    """Everything the loaded plugins registered, collected once at start-up."""

    adapter_types: dict[str, AdapterType] = field(default_factory=dict)
    channel_types: dict[str, ChannelType] = field(default_factory=dict)
    poller_types: dict[str, PollerType] = field(default_factory=dict)
    enrichers: list[Enricher] = field(default_factory=list)
    identity_providers: dict[str, IdentityProvider] = field(default_factory=dict)
    booking_systems: dict[str, Any] = field(default_factory=dict)  # name → hub.BookingSystem
    payload_schemas: PayloadSchemas = field(default_factory=PayloadSchemas)
    tables: list[TableSet] = field(default_factory=list)
    settings: dict[str, SettingsModel] = field(default_factory=dict)
    statuses: dict[str, StatusNamespace] = field(default_factory=dict)
    # The validated settings by config table ("adapters.x", "plugins.y", "channels.z").
    validated: dict[str, Any] = field(default_factory=dict)

    def check_settings(self, config: Any) -> None:
        """Validate every configured table that has a registered model, all at once, so a
        mistake anywhere refuses the start naming the table, the field and the rule."""
        from pydantic import ValidationError

        tables = [(f"plugins.{n}", f"plugins.{n}", v) for n, v in config.plugins.items()]
        tables += [
            (f"adapters:{config.adapter_type(n)}", f"adapters.{n}", v)
            for n, v in config.adapters.items()
        ]
        tables += [(f"channels.{n}", f"channels.{n}", v) for n, v in config.channels.items()]
        tables += [(f"pollers.{n}", f"pollers.{n}", v) for n, v in config.pollers.items()]
        problems = []
        for key, where, values in tables:
            found = self.settings.get(key)
            if found is None:
                continue
            reserved = {"adapters": "type", "pollers.": "interval"}  # the core's keys
            data = {
                k: v
                for k, v in values.items()
                if not any(key.startswith(t) and k == r for t, r in reserved.items())
            }
            try:
                self.validated[where] = found.model.model_validate(data)
            except ValidationError as exc:
                problems += [
                    f"  [{where}] {'.'.join(str(p) for p in e['loc']) or '(table)'}: {e['msg']}"
                    for e in exc.errors()
                ]
        if problems:
            raise ConfigurationError("invalid configuration:\n" + "\n".join(problems))

    def status_catalogue(self) -> dict[str, Any]:
        """Every status that can appear in a history, with its meaning (API and CLI)."""
        return {
            "core": dict(CORE_STATUSES),
            "namespaces": {
                ns: {
                    "plugin": found.plugin,
                    "statuses": dict(found.statuses),
                    "final": sorted(found.final),
                    "media_break": sorted(found.media_break),
                }
                for ns, found in sorted(self.statuses.items())
            },
        }

    def status_traits(self, status: str) -> frozenset[str]:
        """``{"final"}``, ``{"media_break"}`` (or both, or none) for a history status."""
        namespace, _, name = status.partition(":")
        found = self.statuses.get(namespace)
        if found is None:
            return frozenset()
        traits = {"final"} if name in found.final else set()
        if name in found.media_break:
            traits.add("media_break")
        return frozenset(traits)

    def check_status(self, status: str) -> None:
        """A reported status must be a registered ``<namespace>:<name>``: what reaches the
        history is what the docs, the console and notification templates know about."""
        namespace, sep, name = status.partition(":")
        found = self.statuses.get(namespace) if sep else None
        if found is None:
            known = ", ".join(sorted(self.statuses)) or "none"
            raise ValueError(
                f"status {status!r}: namespace {namespace!r} is not registered "
                f"(register_statuses; registered: {known})"
            )
        if name not in found.statuses:
            raise ValueError(
                f"status {status!r}: {namespace} registers {', '.join(found.statuses)}"
            )

    def settings_schema(self, base: dict[str, Any]) -> dict[str, Any]:
        """``base`` (the core's config schema) with every registered table's schema in it."""
        schema = dict(base)
        props = schema.setdefault("properties", {})
        adapters: list[dict[str, Any]] = []
        for key, found in sorted(self.settings.items()):
            part = found.model.model_json_schema()
            if key.startswith("plugins."):
                props["plugins"].setdefault("properties", {})[key[8:]] = part
            elif key.startswith("channels."):
                props["channels"].setdefault("properties", {})[key[9:]] = part
            elif key.startswith("pollers."):
                part.setdefault("properties", {})["interval"] = {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Seconds between polls",
                }
                props["pollers"].setdefault("properties", {})[key[8:]] = part
            else:
                part.setdefault("properties", {})["type"] = {"const": key[9:]}
                adapters.append(part)
        if adapters:
            props["adapters"]["additionalProperties"] = {"anyOf": adapters}
        return schema

    def active_for(self, adapter_types: set[str]) -> Callable[[str], bool]:
        """Whether a plugin's checks apply to a record routed to ``adapter_types``: a plugin
        that brings adapters checks only the records routed to them (installing it changes
        nothing for the others); a plugin without adapters checks every record."""
        owners = self._adapter_owners
        routed = {self.adapter_types[t].plugin for t in adapter_types if t in self.adapter_types}
        return lambda plugin: plugin not in owners or plugin in routed

    @cached_property
    def _adapter_owners(self) -> frozenset[str]:
        """Plugins that bring adapter types (computed once: intake asks for every record)."""
        return frozenset(t.plugin for t in self.adapter_types.values())
