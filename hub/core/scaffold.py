"""``hub plugin new NAME``: a connector the way the bundled ones are built, tests included.

The generated plugin has typed settings, a table of its own with a migration history, an
adapter that posts records to a REST backend with a checkpointed, idempotent side effect, a CLI
command and tests against a loopback backend through ``hub.testing``. Its tests pass as
generated; a vendor replaces the backend call and keeps the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

PYPROJECT = """[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "kommunal-hub-{dist}"
version = "0.1.0"
description = "hub connector: {name}"
requires-python = ">=3.11"
dependencies = ["kommunal-hub", "httpx>=0.27"]

[project.optional-dependencies]
test = ["pytest>=8"]

# How the hub finds the plugin: the entry-point group "hub".
[project.entry-points.hub]
{name} = "hub_{name}.plugin"

[tool.setuptools.packages.find]
include = ["hub_{name}*"]

[tool.setuptools.package-data]
"hub_{name}" = ["migrations/*.py", "migrations/versions/*.py"]
"""

README = """# kommunal-hub-{dist}

A hub connector that posts records to a REST backend. Install it next to the hub
(`pip install -e .`), then configure an adapter of type `{name}`:

```toml
[[routes]]
leika = "99*"
adapters = ["{name}"]

[adapters.{name}]
url = "https://backend.example/api"
token = "env:{env}"
```

`hub {name} cases` lists what the backend acknowledged. Tests: `pytest tests`.
"""

PLUGIN = '''"""Hook implementations of the {name} connector, each pointing at a module."""

from __future__ import annotations

from typing import Any

import click

import hub


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[adapters.x]`` of type ``{name}``."""
    from hub_{name}.adapter import {cls}Settings

    register({cls}Settings, adapter_type="{name}")


@hub.hookimpl
def register_tables(register: Any) -> None:
    """The cases the backend acknowledged."""
    from hub_{name} import tables

    register(tables)  # metadata, VERSION_TABLE and migrations/ beside it


@hub.hookimpl
def register_adapters(register: Any) -> None:
    """The ``{name}`` adapter."""
    from hub_{name}.adapter import make_adapter

    register("{name}", make_adapter, description="Records to the {name} backend over REST")


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    """``hub {name} cases``."""

    @cli.group("{name}")
    def group() -> None:
        """The {name} connector."""

    @group.command("cases")
    @hub.pass_hub
    def cases(h: Any) -> None:
        """Cases the backend acknowledged, newest first."""
        from hub_{name} import tables

        for row in tables.cases_of(h.store):
            click.echo(f"{{row.record_id}}  {{row.case_id}}  {{row.at.isoformat()}}")
'''

ADAPTER = '''"""The ``{name}`` adapter: POST the record, checkpoint the backend's case id."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import hub
from hub_{name} import tables


class {cls}Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="The backend's endpoint for new cases")
    token: hub.Secret = Field(description="The backend's bearer token")
    timeout: float = Field(default=30.0, gt=0)


class {cls}Adapter:
    def __init__(self, settings: {cls}Settings, h: Any):
        self.settings = settings
        self.token = settings.token.reveal("adapters.{name}.token")
        self.hub = h

    def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        # A retry after a crash must not open a second case: the side effect is a step, and
        # the backend gets our idempotency key to recognise a repeat.
        case_id = ctx.step("{name}_case", lambda: self._post(record, ctx))
        tables.remember(self.hub.store, str(record.id), case_id)
        return {{"case_id": case_id}}

    def _post(self, record: hub.Record, ctx: hub.DeliveryContext) -> str:
        with hub.transport_errors("the {name} backend"):  # timeouts: retried
            response = ctx.http.post(
                self.settings.url,
                json=record.model_dump(mode="json"),
                headers={{
                    "Authorization": f"Bearer {{self.token}}",
                    "Idempotency-Key": ctx.idempotency_key,
                }},
                timeout=self.settings.timeout,
            )
        # 408/425/429/5xx: retried (Retry-After honoured); other 4xx: dead letter
        hub.raise_for_status(response, "the {name} backend")
        return response.headers.get("Location") or ctx.idempotency_key

    def check(self, ctx: hub.CheckContext) -> str:
        return f"posting to {{self.settings.url}}"


def make_adapter(settings: dict[str, Any], h: Any) -> {cls}Adapter:
    return {cls}Adapter(hub.parse_settings({cls}Settings, settings), h)
'''

TABLES = '''"""The connector's own table: which case the backend opened for which record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, MetaData, String, Table, insert, select

import hub

VERSION_TABLE = "alembic_version_{name}"
metadata = MetaData()

cases = Table(
    "{name}_cases",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("case_id", String(500), nullable=False),
    Column("at", hub.UtcDateTime(), nullable=False),
)


def remember(store: Any, record_id: str, case_id: str) -> None:
    with store.transaction() as conn:
        if conn.execute(select(cases.c.record_id).where(cases.c.record_id == record_id)).first():
            return  # a retry after the step: already noted
        conn.execute(insert(cases).values(record_id=record_id, case_id=case_id, at=hub.utcnow()))


def cases_of(store: Any) -> list[Any]:
    with store.reading() as conn:
        return list(conn.execute(select(cases).order_by(cases.c.at.desc())).all())
'''

ENV = '''"""Alembic environment of the {name} connector's tables (the hub runs it)."""

import hub

hub.migration_env()
'''

MIGRATION = '''"""The cases table.

Revision ID: {name}_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

import hub

revision = "{name}_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "{name}_cases",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(500), nullable=False),
        sa.Column("at", hub.UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("{name}_cases")
'''

TESTS = '''"""The {name} connector against a loopback backend, with the hub's pytest fixtures
(make_hub_config, live_hub, started_hub, delivery_context come with the hub)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import hub
from hub.testing import (
    CliState,
    PluginManager,
    WebhookReceiver,
    build_cli,
    sample_submission,
    wait_until,
)
from hub_{name} import plugin


def plugins() -> PluginManager:
    pm = PluginManager(load_entrypoints=False)  # only this plugin (installed or not)
    pm.register(plugin, name="{name}")
    return pm


@pytest.fixture
def config(make_hub_config):
    def make(url: str):
        return make_hub_config(
            routes=[{{"adapters": ["{name}"]}}],
            adapters={{"{name}": {{"url": url, "token": "env:{env}"}}}},
        )

    return make


@pytest.fixture(autouse=True)
def backend_token(monkeypatch):
    monkeypatch.setenv("{env}", "backend-secret")


def test_a_record_reaches_the_backend_once_with_our_key(config, live_hub, hub_token) -> None:
    with WebhookReceiver().running() as backend:
        backend.fail_next(1, 503)  # the first try fails: retried, not lost
        live = live_hub(config(backend.url), plugins())
        with live.client(hub_token) as c:
            rid = c.post("/v1/records", json=sample_submission()).json()["id"]
            assert wait_until(
                lambda: c.get(f"/v1/records/{{rid}}").json()["status"] == "delivered", timeout=20
            )
        [got] = backend.received
        assert got.headers["authorization"] == "Bearer backend-secret"
        assert got.headers["idempotency-key"] == f"{{rid}}:{name}"
        assert got.json()["id"] == rid


def test_a_retry_does_not_open_a_second_case(config, started_hub, delivery_context) -> None:
    with WebhookReceiver().running() as backend:
        h = started_hub(config(backend.url), plugins())
        sub = hub.Submission.model_validate(sample_submission())
        rid = h.intake.submit(sub, client="portal").record_id
        record = h.store.get_record(rid)
        adapter = h.adapters["{name}"]
        first = adapter.deliver(record, delivery_context(h, rid, "{name}", attempt=1))
        again = adapter.deliver(record, delivery_context(h, rid, "{name}", attempt=2))
        assert first == again and len(backend.received) == 1  # the step was checkpointed


def test_the_cli_lists_the_cases(config, started_hub, delivery_context, tmp_path) -> None:
    with WebhookReceiver().running() as backend:
        h = started_hub(config(backend.url), plugins())
        rid = h.intake.submit(
            hub.Submission.model_validate(sample_submission()), client="portal"
        ).record_id
        record = h.store.get_record(rid)
        h.adapters["{name}"].deliver(record, delivery_context(h, rid, "{name}"))
    toml = tmp_path / "cli.toml"
    toml.write_text(f'[store]\\nurl = "{{h.config.store.url}}"\\n')
    pm = plugins()
    result = CliRunner().invoke(
        build_cli(pm), ["--config", str(toml), "{name}", "cases"], obj=CliState(None, pm)
    )
    assert result.exit_code == 0, result.output
    assert rid in result.output


def test_bad_settings_refuse_to_start(config) -> None:
    broken = config("http://127.0.0.1:9/x")
    broken.adapters["{name}"]["colour"] = "blue"
    with pytest.raises(hub.ConfigurationError, match="colour"):
        hub.Hub(broken, plugins())
'''


def files(name: str) -> dict[str, str]:
    """Relative path → content of a new plugin called ``name``."""
    fields = {
        "name": name,
        "dist": name.replace("_", "-"),
        "cls": "".join(part.title() for part in name.split("_")),
        "env": f"{name.upper()}_TOKEN",
    }
    package = f"hub_{name}"
    return {
        "pyproject.toml": PYPROJECT.format(**fields),
        "README.md": README.format(**fields),
        f"{package}/__init__.py": f'"""hub connector: {name}."""\n',
        f"{package}/plugin.py": PLUGIN.format(**fields),
        f"{package}/adapter.py": ADAPTER.format(**fields),
        f"{package}/tables.py": TABLES.format(**fields),
        f"{package}/migrations/__init__.py": "",
        f"{package}/migrations/env.py": ENV.format(**fields),
        f"{package}/migrations/versions/__init__.py": "",
        f"{package}/migrations/versions/{name}_0001_cases.py": MIGRATION.format(**fields),
        "tests/__init__.py": "",
        f"tests/test_{name}.py": TESTS.format(**fields),
    }


def create(name: str, directory: Path) -> Path:
    """Write the plugin into ``directory/kommunal-hub-<name>``; refuse to overwrite."""
    if not NAME.match(name):
        raise ValueError("NAME: lower case letters, digits and _, starting with a letter")
    target = directory / f"kommunal-hub-{name.replace('_', '-')}"
    if target.exists():
        raise FileExistsError(f"{target} exists already")
    for relative, content in files(name).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return target


__all__ = ["create", "files"]
