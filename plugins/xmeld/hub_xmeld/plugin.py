"""Hook implementations of the xmeld plugin: payload schema and intake check for the Anmeldung,
the ``xmeld`` adapter, the ``xmeld_inbox`` channel, its HTTP routes and commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import structlog

import hub
from hub_xmeld import schemas

log = structlog.get_logger("hub.xmeld")


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def xmeld() -> None:
        """XMeld 25.11a messages."""

    @cli.group()
    def xta() -> None:
        """XTA 2 transport."""

    @xta.command("simulator")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8090, show_default=True, type=int)
    @click.option(
        "--account",
        "accounts",
        multiple=True,
        required=True,
        help="An active account identifier (repeatable), e.g. psw:05111999.",
    )
    @click.option(
        "--office",
        "offices",
        multiple=True,
        help="Run a simulated Meldebehörde on this account (repeatable), e.g. ags:05111000.",
    )
    @click.option(
        "--result-delay",
        type=float,
        default=None,
        help="Seconds after a 1704 until the office sends its 1707 without waiting for a 1706.",
    )
    @click.option("--schema-dir", type=click.Path(file_okay=False, path_type=Path))
    def xta_simulator(
        host: str,
        port: int,
        accounts: tuple[str, ...],
        offices: tuple[str, ...],
        result_delay: float | None,
        schema_dir: Path | None,
    ) -> None:
        """Run an XTA 2 gateway on loopback (/management, /send, /msgbox; SOAP 1.2), with
        simulated Meldebehörden answering through it."""
        import threading

        import uvicorn

        from hub_xmeld.sim.xta_gateway import XtaGateway
        from hub_xmeld.xta_schema import compile_schema

        directory = schema_dir or schemas.default_dir()
        gateway = XtaGateway(compile_schema(directory), accounts={*accounts, *offices})
        stop = threading.Event()
        for account in offices:
            from hub_xmeld.sim.embedded import office as make_office

            office = make_office(directory, f"http://{host}:{port}", account, result_delay)
            threading.Thread(target=office.run, args=(stop,), daemon=True).start()
        click.echo(f"XTA gateway on http://{host}:{port}/{{management,send,msgbox}}", err=True)
        try:
            uvicorn.run(gateway.app, host=host, port=port, log_config=None, access_log=False)
        finally:
            stop.set()

    @xmeld.command("validate")
    @click.argument(
        "files",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option(
        "--schema-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Folder with catalog.xml and the XÖV schemas (default: ${schemas.ENV} "
        "or ../shared/xoev beside the repository).",
    )
    def validate(files: tuple[Path, ...], schema_dir: Path | None) -> None:
        """Validate FILES against the official XMeld 25.11a schemas; exit 1 if any is invalid."""
        try:
            schema = schemas.load(schema_dir)
        except schemas.SchemaUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        bad = 0
        for path in files:
            _, issues = schema.validate_bytes(path.read_bytes(), what=str(path))
            if not issues:
                click.echo(f"{path}: valid")
                continue
            bad += 1
            for issue in issues:
                click.echo(f"{path}: {issue}")
        if bad:
            raise SystemExit(1)


def _xmeld_configured(h: Any) -> bool:
    """Whether any adapter instance of type xmeld is configured."""
    return any(h.config.adapter_type(n) == "xmeld" for n in h.config.adapters)


@hub.hookimpl
def register_services(register: Any, hub: Any) -> None:
    """With an xmeld adapter: the intake check's fast path reads the Anmeldung's datatypes
    while the hub serves (a worker takes no intake and never needs them). Development
    (``[plugins.xmeld.simulator]``): the XTA gateway simulator with its Meldebehörden, inside
    the hub."""
    if _xmeld_configured(hub):
        from hub_xmeld.intake_check import WarmUp

        register("xmeld_fast_check", WarmUp())
    settings = hub.config.plugins.get("xmeld", {}).get("simulator")
    if settings is None:
        return
    from hub import parse_settings
    from hub_xmeld.sim.embedded import EmbeddedSimulator, SimulatorSettings

    simulator = EmbeddedSimulator(parse_settings(SimulatorSettings, settings))
    register("xmeld_simulator", simulator, dev_only=True)


@hub.hookimpl
def register_payload_schemas(register: Any) -> None:
    from hub_xmeld.anmeldung import LEIKA_PATTERN, PAYLOAD_SCHEMA

    register(LEIKA_PATTERN, PAYLOAD_SCHEMA)


@hub.hookimpl
def register_enrichers(register: Any) -> None:
    from hub_xmeld.intake_check import check

    # after the catalogue (order 10) has named the service and the authority
    register("xmeld", check, phase="check", routed_only=True, blocking=False)


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    from hub_xmeld.routes import router

    register(router(hub))


@hub.hookimpl
def register_adapters(register: Any) -> None:
    from hub_xmeld.adapter import make_adapter

    register("xmeld", make_adapter, description="XMeld 25.11a to the Meldebehörde over XTA 2")


@hub.hookimpl
def register_pollers(register: Any) -> None:
    """``[pollers.xmeld_inbox]``: the Meldebehörde's answers from our XTA mailbox."""
    from hub_xmeld.adapter import make_inbox

    register("xmeld_inbox", make_inbox, interval=30.0)


@hub.hookimpl
def register_tables(register: Any) -> None:
    """Sent messages, processed answers and the outbox of earlier versions (read once, at
    start, to move what waits there into the hub's outbox)."""
    from hub_xmeld import tables

    register(tables)  # metadata, VERSION_TABLE and migrations/ beside it


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.xmeld]`` (development: the embedded gateway and Meldebehörde),
    ``[adapters.x]`` of type ``xmeld``, ``[pollers.xmeld_inbox]``."""
    from pydantic import BaseModel, ConfigDict

    from hub_xmeld.adapter import InboxSettings, XMeldSettings
    from hub_xmeld.sim.embedded import SimulatorSettings

    class XMeldPluginSettings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        simulator: SimulatorSettings | None = None

    register(XMeldPluginSettings)
    register(XMeldSettings, adapter_type="xmeld")
    register(InboxSettings, poller_type="xmeld_inbox")


@hub.hookimpl
def register_statuses(register: Any) -> None:
    """The Meldebehörde's answers (``meldebehoerde:*``) and the Bestätigungscode's way there
    (``xmeld:*``)."""
    from hub_xmeld.answers import FINAL, STATUSES

    register("meldebehoerde", STATUSES, final=FINAL, media_break=("not_electronic",))
    register(
        "xmeld",
        {
            "code_sent": "The Bestätigungscode (1706) reached the Meldebehörde's XTA account",
        },
    )


@hub.hookimpl
def hub_startup(hub: Any) -> None:
    """Codes queued in the plugin's own outbox by an earlier version move to the core's."""
    from hub_xmeld.bestaetigungscode import move_legacy_outbox

    if _xmeld_configured(hub):
        moved = move_legacy_outbox(hub)
        if moved:
            log.info("xmeld_outbox_moved", count=moved)
