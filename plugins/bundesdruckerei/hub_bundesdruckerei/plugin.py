"""Hook implementations: Bürgerkoffer devices and uploads, passport/ID-card applications, the
``passport_office`` adapter, status callbacks, the janitor and the reference receiver."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import click
import structlog

import hub
from hub import pass_hub

NAME = "bundesdruckerei"
log = structlog.get_logger("hub.koffer")


def state(h: Any) -> Any:
    """The plugin's :class:`KofferStore` for this hub (None when not configured)."""
    return STATE(h)


def _build_store(h: Any) -> Any:
    raw = h.config.plugins.get(NAME)
    if raw is None:
        return None
    from hub import parse_settings
    from hub_bundesdruckerei.settings import KofferSettings
    from hub_bundesdruckerei.store import KofferStore

    raw = dict(raw)
    if raw.pop("dev_create_secrets", False):
        _dev_secret(raw.get("master_key", ""), base64.b64encode(os.urandom(32)).decode())
        for ref in raw.get("callback_tokens", []):
            _dev_secret(ref, base64.urlsafe_b64encode(os.urandom(24)).decode())
    return KofferStore(parse_settings(KofferSettings, raw), h.store)


STATE: hub.PluginState[Any] = hub.PluginState(NAME, _build_store)


def _dev_secret(ref: str, value: str) -> None:
    """Development only (``dev_create_secrets``): make a missing secret file with ``value``."""
    if not ref.startswith("file:"):
        raise hub.ConfigurationError("dev_create_secrets needs secrets as 'file:PATH'")
    path = Path(ref[5:])
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
        path.chmod(0o600)


def _required(h: Any) -> Any:
    found = state(h)
    if found is None:
        raise click.ClickException(f"[plugins.{NAME}] is not configured")
    return found


@hub.hookimpl
def hub_startup(hub: Any) -> None:
    """Check the master key: a missing or malformed one stops the start, not the first upload."""
    st = state(hub)
    if st is not None:
        _ = st.master


@hub.hookimpl
def register_services(register: Any, hub: Any) -> None:
    """The janitor (expiry and retention) and, in development, the reference receiver."""
    st = state(hub)
    if st is None:
        return
    from hub_bundesdruckerei.delivery import Janitor

    register("koffer_janitor", Janitor(hub, lambda: st, st.settings.janitor_interval))
    if st.settings.receiver is not None:
        from hub_bundesdruckerei.sim.embedded import EmbeddedReceiver

        register("passport_receiver", EmbeddedReceiver(st.settings.receiver), dev_only=True)


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    if NAME not in hub.config.plugins:
        return
    from hub_bundesdruckerei import applications, delivery, tus

    def current() -> Any:
        return state(hub)

    register(tus.router(current))
    register(applications.router(hub, current))
    register(delivery.callback_router(hub, current))


@hub.hookimpl
def register_enrichers(register: Any) -> None:
    from hub_bundesdruckerei.applications import check

    def enrich(record: hub.Record, ctx: hub.EnrichContext) -> None:
        if record.channel.value != "koffer":
            return
        st = state(ctx.hub)
        if st is None:
            return  # installed, not configured: records pass as they would without it
        check(record, ctx, st)

    register("koffer_applications", enrich, phase="check", blocking=False)  # store reads


@hub.hookimpl
def register_adapters(register: Any) -> None:
    from hub_bundesdruckerei.delivery import PassportOfficeAdapter, PassportOfficeSettings

    def make(settings: dict[str, Any], h: Any) -> PassportOfficeAdapter:
        from hub import parse_settings

        return PassportOfficeAdapter(
            parse_settings(PassportOfficeSettings, settings), h, lambda: state(h)
        )

    register("passport_office", make, description="Koffer applications to the passport software")


@hub.hookimpl
def register_console_pages(register: Any, hub: Any) -> None:
    """Bürgerkoffer (ops): devices of the person's municipalities, register, revoke."""
    if hub is None or NAME not in hub.config.plugins:
        return
    from hub_bundesdruckerei.console import page

    register(page(state))


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def koffer() -> None:
        """Bürgerkoffer devices and their data."""

    @koffer.command("register")
    @click.option("--name", required=True, help="The device's name, e.g. koffer-07.")
    @click.option("--municipality", required=True, help="ARS of the municipality it serves.")
    @pass_hub
    def register_device(h: Any, name: str, municipality: str) -> None:
        """Issue a device credential. It is shown once; only its hash is kept."""
        from hub_bundesdruckerei.store import DeviceError

        try:
            token = _required(h).register(name, municipality)
        except DeviceError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(token)
        click.echo(
            f"device {name} registered for {municipality}; store the credential now: "
            "it is not shown again",
            err=True,
        )

    @koffer.command("list")
    @pass_hub
    def list_devices(h: Any) -> None:
        """Registered devices (name, municipality, registered, revoked)."""
        for d in _required(h).devices():
            revoked = d.revoked_at.isoformat(timespec="seconds") if d.revoked_at else "-"
            click.echo(
                f"{d.name}\t{d.municipality}\t{d.created_at.isoformat(timespec='seconds')}"
                f"\t{revoked}"
            )

    @koffer.command("revoke")
    @click.argument("name")
    @pass_hub
    def revoke(h: Any, name: str) -> None:
        """Revoke a device at once, uploads in progress included."""
        from hub_bundesdruckerei.store import DeviceError

        try:
            _required(h).revoke(name)
        except DeviceError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"device {name} revoked")

    @koffer.command("purge")
    @pass_hub
    def purge_now(h: Any) -> None:
        """Delete expired uploads and data past its retention time now (the janitor's job)."""
        from hub_bundesdruckerei.delivery import purge

        result = purge(h, _required(h))
        click.echo(
            f"{result['expired_uploads']} expired uploads deleted, "
            f"{result['cases_destroyed']} cases destroyed"
        )

    @koffer.command("audit")
    @click.option("--subject", help="Only entries whose subject starts with this.")
    @pass_hub
    def audit(h: Any, subject: str | None) -> None:
        """The audit trail: when, who, what, which id."""
        for e in _required(h).audit_trail(subject):
            click.echo(
                f"{e['at'].isoformat(timespec='seconds')}\t{e['actor']}\t{e['action']}\t"
                f"{e['subject']}\t{e['detail'] or ''}"
            )

    @koffer.command("master-key")
    def master_key() -> None:
        """Print a new random master key (base64) to store where master_key points."""
        click.echo(base64.b64encode(os.urandom(32)).decode())

    @cli.group()
    def bundesdruckerei() -> None:
        """The passport back office interface."""

    @bundesdruckerei.command("receiver")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8091, show_default=True, type=int)
    @click.option(
        "--dir",
        "directory",
        default="var/receiver",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
    )
    @click.option("--hub-url", default="http://127.0.0.1:8080", show_default=True)
    @click.option(
        "--callback-token-env",
        default="HUB_RECEIVER_CALLBACK_TOKEN",
        show_default=True,
        help="Environment variable holding the bearer token for status callbacks.",
    )
    @click.option(
        "--progress-delay",
        type=float,
        default=None,
        help="Seconds between received, in_production and ready_for_pickup.",
    )
    def receiver(
        host: str,
        port: int,
        directory: Path,
        hub_url: str,
        callback_token_env: str,
        progress_delay: float | None,
    ) -> None:
        """Run the reference receiver of the application package interface (version 1)."""
        import uvicorn

        from hub_bundesdruckerei.sim.receiver import Receiver

        token = os.environ.get(callback_token_env)
        if not token:
            raise click.ClickException(f"set {callback_token_env} to the callback token")
        app = Receiver(
            directory, f"{hub_url.rstrip('/')}/v1/koffer/jwks.json", hub_url, token, progress_delay
        ).app
        click.echo(f"receiver on http://{host}:{port}/v1/applications", err=True)
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


@hub.hookimpl
def register_tables(register: Any) -> None:
    """Devices, uploads, cases and the audit trail."""
    from hub_bundesdruckerei import tables

    register(tables)  # metadata, VERSION_TABLE and migrations/ beside it


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.bundesdruckerei]`` and ``[adapters.x]`` of type ``passport_office``."""
    from hub_bundesdruckerei.delivery import PassportOfficeSettings
    from hub_bundesdruckerei.settings import KofferSettings

    register(KofferSettings)
    register(PassportOfficeSettings, adapter_type="passport_office")


@hub.hookimpl
def register_statuses(register: Any) -> None:
    """What the passport software reports (``passport_office:*``) and what the hub does with
    the biometric data (``koffer:*``)."""
    from hub_bundesdruckerei.package import STATUSES

    # The back office's last word: the document is ready, or the application was refused.
    register("passport_office", STATUSES, final=("ready_for_pickup", "rejected"))
    register(
        "koffer",
        {"data_purged": "Undelivered biometric data destroyed when the retention time ended"},
    )


@hub.hookimpl
def register_attachment_backends(register: Any, hub: Any) -> None:
    """The koffer's encrypted uploads, as attachments of the records they belong to."""
    from hub_bundesdruckerei.attachments import NAME as BACKEND
    from hub_bundesdruckerei.attachments import KofferBackend

    register(BACKEND, KofferBackend(hub, STATE))
