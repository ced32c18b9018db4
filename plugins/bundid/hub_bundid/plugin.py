"""Hook implementations of the bundid plugin. Active when ``[plugins.bundid]`` is configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import structlog
from pydantic import ValidationError

import hub
from hub import ConfigurationError
from hub_bundid.constants import RANK_OF_LEVEL
from hub_bundid.errors import SamlError
from hub_bundid.sim.server import Simulator, SimulatorConfig, SimulatorServer
from hub_bundid.sp import (
    BundIdIdentity,
    BundIdSettings,
    SpState,
    build_state,
    metadata_over_http,
    router,
)

NAME = "bundid"
log = structlog.get_logger("hub.bundid")


def _build_state(h: Any) -> SpState | None:
    if NAME not in h.config.plugins:
        return None
    try:
        settings = BundIdSettings.model_validate(h.config.plugins[NAME])
    except ValidationError as exc:
        raise hub.ConfigurationError(f"[plugins.{NAME}]: {exc}") from None
    return build_state(h, settings)


STATE: hub.PluginState[SpState | None] = hub.PluginState(NAME, _build_state)


def state(h: Any) -> SpState | None:
    """This plugin's state for hub ``h``; None when BundID is not configured."""
    return STATE(h)


@hub.hookimpl
def hub_startup(hub: Any) -> None:
    """Create the SP's tables; in development, start the embedded simulator."""
    st = state(hub)
    if st is None:
        return
    st.ledger.purge()
    source = st.settings.idp_metadata
    if metadata_over_http(source):
        log.warning("bundid_metadata_over_http", hint="use https: the IdP's keys come from it")
    if not source.startswith(("http://", "https://")):
        # A file is ours to get right: refuse to start rather than fail every login.
        try:
            st.idp(fresh=True)
        except SamlError as exc:
            raise ConfigurationError(
                f"[plugins.{NAME}] idp_metadata: {exc.message} ({exc.code})"
            ) from None


@hub.hookimpl
def check_health(hub: Any) -> list[tuple[str, bool, str]] | None:
    """BundID's metadata: readable, an IdP with signing certificates, not over plain http."""
    st = state(hub)
    if st is None:
        return None
    source = st.settings.idp_metadata
    try:
        idp = st.idp(fresh=True)
    except SamlError as exc:
        return [("idp metadata", False, f"{exc.code}: {exc.message}")]
    if metadata_over_http(source):
        return [("idp metadata", False, f"{source} is plain http: use https")]
    return [
        (
            "idp metadata",
            True,
            f"{idp.entity_id}, {len(idp.signing_certs)} signing certificate(s)",
        )
    ]


@hub.hookimpl
def register_services(register: Any, hub: Any) -> None:
    """Development (``[plugins.bundid.simulator]``): the BundID simulator."""
    st = state(hub)
    sim = st.settings.simulator if st is not None else None
    if st is None or sim is None:
        return
    port = int(sim.get("port", 8089))
    host = str(sim.get("host", "127.0.0.1"))
    simulator = Simulator(
        SimulatorConfig(
            base_url=f"http://{host}:{port}",
            sp_certs=[st.signing.cert_pem],
            sp_encryption_cert=st.encryption.cert_pem,
            keys_dir=Path(st.settings.keys_dir) if st.settings.keys_dir else None,
            auto_persona=sim.get("auto_persona"),
            legacy=bool(sim.get("legacy", False)),
        )
    )
    register("bundid_simulator", SimulatorServer(simulator, host, port), dev_only=True)


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    if NAME in hub.config.plugins:
        register(router(lambda: state(hub)))


@hub.hookimpl
def register_identity_providers(register: Any, hub: Any) -> None:
    """Intake asks for the citizen's BundID session only where BundID is configured: installed
    and unconfigured, the plugin costs a submission nothing."""
    if NAME in hub.config.plugins:
        register(NAME, BundIdIdentity(lambda: state(hub)))


def check_trust_level(record: hub.Record, ctx: hub.EnrichContext) -> None:
    """A record submitted in a BundID session must meet its service's minimum level."""
    st = state(ctx.hub)
    identity = record.applicant.identity if record.applicant else None
    if st is None or identity is None or identity.method != "bundid":
        return
    required = st.settings.level_for(record.service.leika_key)
    if RANK_OF_LEVEL[identity.trust_level.value] < RANK_OF_LEVEL[required]:
        raise hub.IntakeRejected.one(
            "applicant.identity.trust_level",
            "trust_level_insufficient",
            f"this service needs a BundID login at level {required!r}; the session has "
            f"{identity.trust_level.value!r}",
            status_code=403,
        )


@hub.hookimpl
def register_enrichers(register: Any) -> None:
    register("bundid_trust_level", check_trust_level, phase="identity", blocking=False)


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def bundid() -> None:
        """BundID login: keys and the simulator."""

    @bundid.command("simulator")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8089, show_default=True, type=int)
    @click.option("--sp-metadata", required=True, help="URL or file of the hub's /bundid/metadata.")
    @click.option(
        "--keys-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("var/bundid-simulator"),
        show_default=True,
    )
    @click.option("--persona", help="Answer at once as this persona (non-interactive).")
    @click.option("--legacy", is_flag=True, help="rsa-sha256 and AES-CBC instead of PSS/GCM.")
    def simulator(
        host: str, port: int, sp_metadata: str, keys_dir: Path, persona: str | None, legacy: bool
    ) -> None:
        """Run a BundID-like IdP on loopback (metadata at http://HOST:PORT/idp)."""
        import uvicorn

        sim = Simulator(
            SimulatorConfig(
                base_url=f"http://{host}:{port}",
                sp_metadata=sp_metadata,
                keys_dir=keys_dir,
                auto_persona=persona,
                legacy=legacy,
            )
        )
        click.echo(f"BundID simulator: entityID {sim.config.entity_id}", err=True)
        uvicorn.run(sim.app, host=host, port=port, log_config=None, access_log=False)

    @bundid.command("keys")
    @click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
    def make_keys(directory: Path) -> None:
        """Create SP signing and encryption key pairs (self-signed, 3072 bit) in DIRECTORY."""
        from hub_bundid import keys

        for name in ("sp-signing", "sp-encryption"):
            keys.ensure(directory, name, name)
            click.echo(f"{directory / name}.key, {directory / name}.crt")


@hub.hookimpl
def register_tables(register: Any) -> None:
    """Used login requests, seen assertions and sessions."""
    from hub_bundid import tables

    register(tables)  # metadata, VERSION_TABLE and migrations/ beside it


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.bundid]``."""
    register(BundIdSettings)
