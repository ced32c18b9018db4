"""The ``hub`` command line. Plugins add subcommands through ``register_commands``."""

from __future__ import annotations

import functools
import json
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from hub import __version__
from hub.core.auth import token_sha256
from hub.core.config import HubConfig, load_config
from hub.core.errors import ConfigurationError, IntakeRejected
from hub.core.logging import configure_logging
from hub.core.plugins import PluginManager
from hub.core.problems import from_validation_error
from hub.core.record import Record, Submission

F = TypeVar("F", bound=Callable[..., Any])


class CliState:
    def __init__(self, config_path: str | None, plugins: PluginManager):
        self.config_path = config_path
        self.plugins = plugins
        self._hub: Any = None

    @property
    def config(self) -> HubConfig:
        return load_config(self.config_path)

    @property
    def hub(self) -> Any:
        if self._hub is None:
            from hub.core.hub import Hub

            config = self.config
            configure_logging(config.logging.level, config.logging.format)
            self._hub = Hub(config, self.plugins)
        return self._hub


def pass_hub(fn: F) -> F:
    """Give a command the configured :class:`hub.Hub` as first argument (store migrated)."""

    @click.pass_obj
    @functools.wraps(fn)
    def wrapper(state: CliState, *args: Any, **kwargs: Any) -> Any:
        hub = state.hub
        hub.start(intake_thread=False)
        try:
            return fn(hub, *args, **kwargs)
        finally:
            hub.close()

    return wrapper  # type: ignore[return-value]


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group()
@click.version_option(__version__, prog_name="hub")
@click.option(
    "--config",
    "config_path",
    envvar="HUB_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: ./hub.toml if present).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """hub: integration hub for municipal e-government."""
    if ctx.obj is None:
        ctx.obj = CliState(config_path, PluginManager())
    else:
        ctx.obj.config_path = config_path


@cli.command()
@click.option("--host", help="Override server.host.")
@click.option("--port", type=int, help="Override server.port.")
@click.option("--workers", type=int, help="Delivery threads in this process (0: intake only).")
@click.option("--print-example", is_flag=True, help="Print a curl that submits a sample record.")
@click.pass_obj
def serve(
    state: CliState, host: str | None, port: int | None, workers: int | None, print_example: bool
) -> None:
    """Run the intake API, the delivery workers and the channels."""
    from hub.core.daemon import serve as run

    hub = state.hub

    def banner() -> None:
        if print_example:
            h, p = host or hub.config.server.host, port or hub.config.server.port
            click.echo(
                f"\nhub listening on http://{h}:{p}  (OpenAPI: http://{h}:{p}/docs)\n"
                "Submit the sample record with the development token:\n\n"
                f"  curl -sS -X POST http://{h}:{p}/v1/records \\\n"
                "    -H 'Authorization: Bearer dev-token-not-for-production' \\\n"
                "    -H 'Content-Type: application/json' \\\n"
                "    --data @examples/sample-record.json\n\n"
                f"then: curl -sS -H 'Authorization: Bearer dev-token-not-for-production' "
                f"http://{h}:{p}/v1/records/<id>\n"
                "Delivered records appear as JSON files in var/outbox/. Ctrl-C stops.\n",
                err=True,
            )

    run(hub, host=host, port=port, workers=workers, on_ready=banner)


@cli.command()
@click.option("--workers", type=int, help="Delivery threads (default: delivery.workers).")
@click.pass_obj
def worker(state: CliState, workers: int | None) -> None:
    """Run delivery workers only, to scale out beside `hub serve`."""
    from hub.core.daemon import run_worker

    run_worker(state.hub, workers=workers)


@cli.command()
@click.argument("file", type=click.File("rb"))
@click.option("--client", default="cli", show_default=True, help="Client name recorded.")
@click.option("--idempotency-key", help="Submitting twice with the same key yields one record.")
@pass_hub
def submit(hub: Any, file: Any, client: str, idempotency_key: str | None) -> None:
    """Submit a record from a JSON FILE ('-' for stdin) directly into the store."""
    try:
        sub = Submission.model_validate_json(file.read())
        accepted = hub.intake.submit(sub, client=client, idempotency_key=idempotency_key)
    except ValidationError as exc:
        raise rejection_error(from_validation_error(exc)) from None
    except IntakeRejected as exc:
        raise rejection_error(exc) from None
    _echo_json({"id": accepted.record_id, "status": accepted.status, "replayed": accepted.replayed})


def rejection_error(exc: IntakeRejected) -> click.ClickException:
    """A refusal as a command's error: each field, message and rule on a line of its own."""
    lines = [f"  {p.field}: {p.message} [{p.rule}]" for p in exc.problems]
    return click.ClickException("rejected:\n" + "\n".join(lines))


def _record_or_fail(hub: Any, record_id: str) -> Record:
    record = hub.store.get_record(record_id)
    if record is None:
        raise click.ClickException(f"no record {record_id}")
    return record


@cli.command()
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
@pass_hub
def status(hub: Any, record_id: str, as_json: bool) -> None:
    """Show a record's status, per adapter, and its history."""
    record = _record_or_fail(hub, record_id)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
        return
    click.echo(
        f"{record.id}  {record.status.value}  {record.service.leika_key}  "
        f"{record.municipality.ars}  {record.channel.value}"
    )
    for d in record.deliveries:
        err = f"  last error: {d.last_error}" if d.last_error else ""
        click.echo(f"  {d.adapter:<16} {d.status.value:<12} attempts={d.attempts}{err}")
    for h in record.history:
        click.echo(
            f"  {h.at.isoformat()}  {h.status}"
            + (f" [{h.adapter}]" if h.adapter else "")
            + (f"  {h.detail}" if h.detail else "")
        )


@cli.command(name="list")
@click.option("--status", "status_", help="Only records with this status.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def list_(hub: Any, status_: str | None, limit: int, as_json: bool) -> None:
    """List records, newest first."""
    rows = hub.store.list_records(status=status_, limit=limit)
    if as_json:
        _echo_json([r.as_dict() for r in rows])
        return
    for r in rows:
        click.echo(
            f"{r.id}  {r.status:<12} {r.leika_key}  {r.ars}  {r.channel:<12} "
            f"{r.received_at.isoformat()}"
        )


@cli.command()
@click.argument("record_id")
@pass_hub
def retry(hub: Any, record_id: str) -> None:
    """Queue a record's dead-lettered deliveries again."""
    _record_or_fail(hub, record_id)
    retried = hub.retry(record_id)
    if not retried:
        raise click.ClickException(f"record {record_id} has no dead-lettered delivery")
    click.echo(f"queued again: {', '.join(retried)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def statuses(hub: Any, as_json: bool) -> None:
    """List every status a record's history can show, with its meaning."""
    found = hub.registry.status_catalogue()
    if as_json:
        _echo_json(found)
        return
    for name, meaning in found["core"].items():
        click.echo(f"{name:<36} {meaning}")
    for ns, part in found["namespaces"].items():
        for name, meaning in part["statuses"].items():
            marks = [part["plugin"]] + [t for t in ("final", "media_break") if name in part[t]]
            click.echo(f"{ns + ':' + name:<36} {meaning}  [{', '.join(marks)}]")


@cli.command(name="dead-letters")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def dead_letters(hub: Any, limit: int, as_json: bool) -> None:
    """List dead-lettered deliveries with their last error."""
    rows = hub.store.dead_letters(limit)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no dead letters")
    for r in rows:
        click.echo(
            f"{r['record_id']}  {r['adapter']:<16} attempts={r['attempts']}  {r['last_error']}"
        )


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def plugins(state: CliState, as_json: bool) -> None:
    """List loaded plugins, their versions and the hooks each implements."""
    infos = state.plugins.describe()
    if as_json:
        _echo_json([i.as_dict() for i in infos])
        return
    for info in infos:
        version = f"{info.distribution} {info.version}" if info.distribution else "(built in)"
        click.echo(f"{info.name:<20} {version:<36} {', '.join(info.hooks)}")
        for label, names in (
            ("adapter types", info.adapter_types),
            ("channel types", info.channel_types),
            ("enrichers", info.enrichers),
        ):
            if names:
                click.echo(f"{'':<20} {label}: {', '.join(names)}")
    if state.plugins.disabled:
        click.echo(f"disabled: {', '.join(sorted(state.plugins.disabled))}")


@cli.command()
@click.pass_obj
def doctor(state: CliState) -> None:
    """Check the store, every adapter's configuration and connectivity, and every plugin."""
    from hub.core.health import run_checks

    hub = state.hub
    failed = 0

    def report(name: str, ok: bool, text: str) -> None:
        nonlocal failed
        failed += not ok
        click.echo(f"{'ok  ' if ok else 'FAIL'}  {name:<24} {text}")

    try:
        hub.store.ping()
        hub.start(intake_thread=False)
        report("store", True, hub.store.dialect)
    except Exception as exc:
        report("store", False, f"{type(exc).__name__}: {exc}")
    for name, ok, text in run_checks(hub):
        report(name, ok, text)
    hub.close()
    if failed:
        sys.exit(1)


@cli.group()
def staff() -> None:
    """People who sign in to the console: accounts, roles, municipalities, the audit trail."""


def _staff_store(hub: Any) -> Any:
    from hub.core.staff import StaffStore

    hub.start(intake_thread=False)  # migrated, so the tables are there
    return StaffStore(hub.store)


@staff.command("add")
@click.argument("username")
@click.option("--name", "display_name", default="", help="As shown in the console")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["ops", "service_center", "mobile_office", "reporting"]),
)
@click.option(
    "--municipality",
    "municipalities",
    multiple=True,
    required=True,
    help="ARS, a prefix ending in *, or * (repeat for several)",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@click.option("--sso-only", is_flag=True, help="No password: signs in only through [console.oidc]")
@pass_hub
def staff_add(
    hub: Any,
    username: str,
    display_name: str,
    roles: tuple[str, ...],
    municipalities: tuple[str, ...],
    password_stdin: bool,
    sso_only: bool,
) -> None:
    """Create an account (the password is asked for, or read with --password-stdin)."""
    password: str | None
    if sso_only:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        made = _staff_store(hub).add(
            username,
            display_name=display_name,
            password=password,
            roles=list(roles),
            municipalities=list(municipalities),
            by="cli",
        )
    except IntakeRejected as exc:
        raise rejection_error(exc) from None
    click.echo(f"{made.username}  {','.join(made.roles)}  {','.join(made.municipalities)}")


@staff.command("list")
@pass_hub
def staff_list(hub: Any) -> None:
    """Every account with its roles and municipalities."""
    for person, active in _staff_store(hub).list():
        state = "active" if active else "disabled"
        click.echo(
            f"{person.username:<20} {state:<9} {','.join(person.roles):<28} "
            f"{','.join(person.municipalities)}"
        )


@staff.command("disable")
@click.argument("username")
@pass_hub
def staff_disable(hub: Any, username: str) -> None:
    """Disable an account and end its sessions at once."""
    if not _staff_store(hub).disable(username, by="cli"):
        raise click.ClickException(f"no account {username}")
    click.echo(f"{username}  disabled")


@staff.command("audit")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@pass_hub
def staff_audit(hub: Any, limit: int) -> None:
    """What people changed, newest first."""
    for a in _staff_store(hub).audit_trail(limit):
        click.echo(
            f"{a['at'].isoformat(timespec='seconds')}  {a['username']:<16} {a['action']:<14} "
            f"{a['target'] or ''}  {a['detail'] or ''}"
        )


@cli.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.pass_obj
def config_show(state: CliState) -> None:
    """The effective configuration (file plus HUB_* environment) as JSON; passwords in URLs
    are shown as ***."""
    _echo_json(redact(state.config.model_dump(mode="json")))


@config.command("schema")
@click.pass_obj
def config_schema(state: CliState) -> None:
    """JSON Schema of the configuration file, with every installed plugin's tables."""
    registry = state.plugins.collect(None)  # type: ignore[arg-type]
    _echo_json(registry.settings_schema(HubConfig.model_json_schema()))


@cli.group()
def plugin() -> None:
    """Write plugins."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the plugin's folder is made.",
)
def plugin_new(name: str, directory: Path) -> None:
    """Make a connector NAME (settings, a table, an adapter, a command, passing tests)."""
    from hub.core.scaffold import create

    try:
        target = create(name, directory)
    except (ValueError, FileExistsError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{target}: pip install -e {target} && pytest {target / 'tests'}")


@cli.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(state: CliState) -> None:
    """Migrate the store's schema and every plugin's tables to the newest revision."""
    hub = state.hub
    for history, revision in hub.migrate().items():
        click.echo(f"{history:<20} at revision {revision}")
    hub.close()


@cli.group()
def schemas() -> None:
    """The hub's own JSON Schemas."""


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas_export(directory: Path) -> None:
    """Write record, submission and config JSON Schemas into DIRECTORY."""
    from hub.core.schemas import write_schemas

    for path in write_schemas(directory):
        click.echo(str(path))


@cli.group()
def token() -> None:
    """API client tokens."""


@token.command("new")
def token_new() -> None:
    """Print a new random bearer token and the token_sha256 to put in [[clients]]."""
    value = secrets.token_urlsafe(32)
    click.echo(f"token:        {value}\ntoken_sha256: {token_sha256(value)}")


def build_cli(plugins: PluginManager | None = None) -> click.Group:
    plugins = plugins if plugins is not None else PluginManager()
    plugins.add_commands(cli)
    return cli


def redact(value: Any) -> Any:
    """``value`` with the password of every URL in it replaced by ``***``."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and "://" in value and "@" in value:
        from urllib.parse import urlsplit, urlunsplit

        try:
            parts = urlsplit(value)
            if parts.password is not None:
                host = parts.netloc.rpartition("@")[2]
                user = parts.username or ""
                return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
        except ValueError:
            return value
    return value


def main() -> None:
    try:
        plugins = PluginManager()
        build_cli(plugins).main(obj=CliState(None, plugins), standalone_mode=True)
    except ConfigurationError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
