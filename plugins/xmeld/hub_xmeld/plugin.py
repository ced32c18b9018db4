"""Hook implementations of the xmeld plugin (so far: schema validation on the command line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import hub
from hub_xmeld import schemas


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
    @click.option("--schema-dir", type=click.Path(file_okay=False, path_type=Path))
    def xta_simulator(
        host: str, port: int, accounts: tuple[str, ...], schema_dir: Path | None
    ) -> None:
        """Run an XTA 2 gateway on loopback (/management, /send, /msgbox; SOAP 1.2)."""
        import uvicorn

        from hub_xmeld.xta_schema import compile_schema
        from hub_xmeld.xta_sim import XtaGateway

        gateway = XtaGateway(
            compile_schema(schema_dir or schemas.default_dir()), accounts=set(accounts)
        )
        click.echo(f"XTA gateway on http://{host}:{port}/{{management,send,msgbox}}", err=True)
        uvicorn.run(gateway.app, host=host, port=port, log_config=None, access_log=False)

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


@hub.hookimpl
def register_adapters(register: Any) -> None:
    from hub_xmeld.adapter import make_adapter

    register("xmeld", make_adapter, description="XMeld 25.11a to the Meldebehörde over XTA 2")


@hub.hookimpl
def register_channels(register: Any) -> None:
    from hub_xmeld.adapter import make_inbox

    register("xmeld_inbox", make_inbox)
