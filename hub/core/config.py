"""Configuration: one TOML file (``hub.toml`` or ``--config``), every value overridable by
``HUB_<SECTION>__<KEY>`` environment variables (pydantic-settings does the merge), secrets only by
reference (``env:NAME`` or ``file:PATH``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hub.core.errors import ConfigurationError
from hub.core.record import Channel
from hub.core.secrets import Secret

CONFIG_ENV = "HUB_CONFIG"
DEFAULT_CONFIG = "hub.toml"

Scope = Literal["records:write", "records:read", "admin"]
ArsPattern = Annotated[str, StringConstraints(pattern=r"^(\*|[0-9]{1,12}\*?)$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Intake request size limit")
    access_log: bool = False


class StoreConfig(_Section):
    url: str = Field(
        default="sqlite:///var/hub.db",
        description="Database URL, or a reference to one (env:NAME, file:PATH) when it holds "
        "a password",
    )
    auto_migrate: bool = Field(default=True, description="Upgrade the schema when the hub starts")

    def resolved_url(self) -> str:
        """The URL itself: references are resolved here, so the config (and `hub config
        show`) only ever holds the reference."""
        if self.url.partition(":")[0] in ("env", "file"):
            return resolve_secret(self.url, "store.url")
        return self.url

    intake_batch_max: int = Field(default=512, ge=1, description="Records per group commit")


class ClientConfig(_Section):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    token_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
    scopes: list[Scope] = Field(default_factory=list)
    municipalities: list[ArsPattern] = Field(
        default_factory=list, description="ARS list (or prefixes ending in '*'), or ['*']"
    )

    @field_validator("token_sha256")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


class RouteConfig(_Section):
    leika: str | None = Field(default=None, description="Glob on the LeiKa key, e.g. 99115005*")
    ars: str | None = Field(default=None, description="Glob on the ARS, e.g. 05111*")
    channel: Channel | None = None
    adapters: list[str] = Field(min_length=1)


class DeliveryConfig(_Section):
    workers: int = Field(default=2, ge=0, description="Delivery threads per process")
    batch_size: int = Field(default=32, ge=1, le=1000)
    lease_seconds: float = Field(default=60.0, gt=0)
    complete_every: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="Outcomes recorded together at most (or after 0.25 s): after a crash at "
        "most these and the one in flight are delivered again; smaller costs throughput "
        "(bench/RESULTS.md)",
    )
    max_attempts: int = Field(default=12, ge=1)
    max_age_seconds: float = Field(default=3 * 86400, gt=0)
    backoff_initial: float = Field(default=2.0, gt=0)
    backoff_max: float = Field(default=900.0, gt=0)
    poll_interval: float = Field(
        default=0.5, gt=0, description="Seconds an idle worker waits before looking for work"
    )
    listen: bool = Field(
        default=True,
        description="On PostgreSQL, wake idle workers of every process by LISTEN/NOTIFY",
    )
    listen_poll_interval: float = Field(
        default=5.0,
        gt=0,
        description="While listening: the longest an idle worker waits (a retry that falls "
        "due or a lease that expires wakes it at its time)",
    )
    timeout: float = Field(default=30.0, gt=0, description="HTTP timeout given to adapters")
    drain_seconds: float = Field(default=30.0, ge=0, description="SIGTERM grace for in-flight work")

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> DeliveryConfig:
        # A lease that can end while its delivery still waits for the backend lets another
        # worker take the item and send it a second time (renewals only narrow that window).
        if self.lease_seconds <= self.timeout:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds:g}) must be longer than timeout "
                f"({self.timeout:g}): a delivery still waiting when its lease ends is taken "
                "over by another worker and sent twice"
            )
        return self


class AttachmentsConfig(_Section):
    directory: str = Field(
        default="var/attachments", description="Where documents added to records are kept"
    )


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class OidcConfig(_Section):
    """Signing in to the console with the municipality's OpenID Connect provider
    (authorization code flow with PKCE). It only authenticates: the person must have a hub
    account (``hub staff add NAME --sso-only``) whose name is the ``username_claim``."""

    issuer: str = Field(description="The provider's issuer URL (its discovery document is read)")
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: Secret = Field(description="By reference: env:NAME or file:PATH")
    username_claim: str = Field(default="preferred_username", max_length=64)
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    label: str = Field(
        default="Mit dem Dienstkonto anmelden", max_length=100, description="The button's words"
    )
    timeout: float = Field(default=10.0, gt=0)


class ConsoleConfig(_Section):
    oidc: OidcConfig | None = None


class HubConfig(BaseSettings):
    """The whole configuration. Plugin settings live under ``[plugins.<name>]``."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    attachments: AttachmentsConfig = Field(default_factory=AttachmentsConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    clients: list[ClientConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    adapters: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Adapter instances; `type` defaults to the table name"
    )
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Intake channels: sources of new records"
    )
    pollers: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Pollers that follow remote status; `interval` (seconds) is the core's",
    )
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment overrides them.
        return (env_settings, init_settings)

    def adapter_type(self, instance: str) -> str:
        return str(self.adapters.get(instance, {}).get("type", instance))


def check_environment(environ: dict[str, str] | None = None) -> None:
    """``HUB_<SECTION>__<KEY>`` must name a section that exists: a misspelled override would
    otherwise be ignored without a word, and the hub run on the value it was meant to replace."""
    sections = set(HubConfig.model_fields)
    for name in sorted(environ if environ is not None else os.environ):
        if not name.upper().startswith("HUB_") or "__" not in name:
            continue
        section = name[4:].split("__", 1)[0].lower()
        if section not in sections:
            raise ConfigurationError(
                f"environment variable {name}: there is no section [{section}] "
                f"(sections: {', '.join(sorted(sections))})"
            )


def load_config(path: str | os.PathLike[str] | None = None, *, required: bool = False) -> HubConfig:
    """Read the TOML file (``path``, else ``$HUB_CONFIG``, else ``./hub.toml`` if present)."""
    check_environment()
    chosen = path or os.environ.get(CONFIG_ENV)
    data: dict[str, Any] = {}
    if chosen is None and Path(DEFAULT_CONFIG).is_file():
        chosen = DEFAULT_CONFIG
    if chosen is not None:
        file = Path(chosen)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError(f"config file {file} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"config file {file} is not valid TOML: {exc}") from exc
    elif required:
        raise ConfigurationError("no config file given (--config, $HUB_CONFIG or ./hub.toml)")
    return config_from_dict(data)


def config_from_dict(data: dict[str, Any]) -> HubConfig:
    try:
        return HubConfig(**data)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigurationError("invalid configuration:\n" + "\n".join(lines)) from None


def resolve_secret(value: Any, where: str) -> str:
    """Resolve a secret given by reference: ``env:NAME``, ``file:PATH``, ``{env=…}``/``{file=…}``.

    Inline secrets are refused: config files get copied, committed and printed by ``hub config
    show``; a reference keeps the secret itself out of all three.
    """
    if isinstance(value, dict) and len(value) == 1:
        ((kind, ref),) = value.items()
    elif isinstance(value, str) and value.partition(":")[0] in ("env", "file"):
        kind, _, ref = value.partition(":")
    else:
        raise ConfigurationError(
            f"{where}: secrets are given by reference, as 'env:NAME' or 'file:PATH'"
        )
    if kind == "env":
        secret = os.environ.get(str(ref))
        if not secret:
            raise ConfigurationError(f"{where}: environment variable {ref} is not set")
        return secret
    if kind == "file":
        try:
            return Path(str(ref)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{where}: cannot read secret file {ref}: {exc}") from exc
    raise ConfigurationError(f"{where}: unknown secret reference kind {kind!r}")
