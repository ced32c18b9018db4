"""Published contracts: the JSON Schemas in schemas/ and the hook documentation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from hub.core import hookspecs
from hub.core.schemas import all_schemas, render
from hub.testing import sample_submission

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_schema_files_match_the_models(name: str) -> None:
    on_disk = (ROOT / "schemas" / name).read_text(encoding="utf-8")
    assert on_disk == render(all_schemas()[name]), (
        f"schemas/{name} is out of date: run `make schemas`"
    )


def test_submission_schema_accepts_the_sample_and_rejects_a_short_key() -> None:
    schema = json.loads((ROOT / "schemas" / "submission.schema.json").read_text())
    jsonschema.validate(sample_submission(), schema)
    bad = sample_submission(service={"leika_key": "9911500510400"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_every_hook_is_documented_with_a_section_and_an_example() -> None:
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (\w+)\n(.*?)(?=^### |^## |\Z)", doc, re.S | re.M))
    names = hookspecs.all_hook_names()
    assert len(names) == 22
    for name in names:
        assert name in sections, f"docs/plugins.md has no section for hook {name}"
        assert "```python" in sections[name], f"docs/plugins.md: {name} has no example"
        assert getattr(hookspecs, name).__doc__.strip(), f"hook {name} has no docstring"


def test_distribution_names_are_not_the_unrelated_hub_on_the_package_index() -> None:
    """``hub`` on PyPI is another project: a vendor writing ``dependencies = ["hub"]`` would
    install it. Our distributions have names of their own; plugins depend on ``kommunal-hub``."""
    import tomllib

    core = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert core["name"] == "kommunal-hub"
    plugin_files = sorted((ROOT / "plugins").glob("*/pyproject.toml"))
    assert len(plugin_files) >= 5
    for path in plugin_files:
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        assert project["name"].startswith("kommunal-hub-"), path
        names = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0] for d in project["dependencies"]}
        assert "kommunal-hub" in names and "hub" not in names, path
    assert 'dependencies = ["kommunal-hub"]' in (ROOT / "docs" / "plugins.md").read_text("utf-8")


def test_the_production_example_is_valid_for_every_plugin(monkeypatch) -> None:
    """examples/hub.production.toml: the core accepts it and each plugin's own settings model
    accepts its section (nothing is started: the endpoints in it are placeholders)."""
    from hub.core.config import load_config
    from hub_appointments.settings import AppointmentsSettings
    from hub_bundesdruckerei.delivery import PassportOfficeSettings
    from hub_bundesdruckerei.settings import KofferSettings
    from hub_bundid.sp import BundIdSettings
    from hub_fitconnect.sender import SenderSettings
    from hub_fitconnect.subscriber import SubscriberSettings
    from hub_ozg_catalog.plugin import CatalogSettings
    from hub_xmeld.adapter import InboxSettings, XMeldSettings

    monkeypatch.delenv("HUB_STORE__URL", raising=False)
    config = load_config(ROOT / "examples" / "hub.production.toml")
    assert config.store.url.startswith("env:")  # the database password is not in the file
    for model, section in (
        (CatalogSettings, config.plugins["ozg_catalog"]),
        (BundIdSettings, config.plugins["bundid"]),
        (KofferSettings, config.plugins["bundesdruckerei"]),
        (XMeldSettings, config.adapters["xmeld"]),
        (
            InboxSettings,
            {k: v for k, v in config.pollers["xmeld_inbox"].items() if k != "interval"},
        ),
        (PassportOfficeSettings, config.adapters["passport_office"]),
        (SenderSettings, config.adapters["fitconnect"]),
        (SubscriberSettings, config.channels["fitconnect_subscriber"]),
        (AppointmentsSettings, config.plugins["appointments"]),
    ):
        model.model_validate(section)
    assert config.plugins["bundid"]["legacy_algorithms"] is False
    used = {a for route in config.routes for a in route.adapters}
    assert used == set(config.adapters)


def test_plugins_use_only_the_public_surface() -> None:
    """Nothing under plugins/ (code or tests) imports ``hub.core``, an underscore module of
    ``hub``, the built-in adapters, or another plugin: a vendor's connector can be built from
    exactly what ours are built from."""
    import ast

    offences = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        own = "hub_" + path.relative_to(ROOT / "plugins").parts[0]  # plugins/<name>/…
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                private = parts[0] == "hub" and (len(parts) > 1 and parts[1] not in ("testing",))
                foreign = parts[0].startswith("hub_") and parts[0] != own
                if private or foreign:
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert offences == []


def test_plugins_reach_the_database_through_the_store_api() -> None:
    """Plugin tables are read and written with ``store.transaction()`` / ``store.reading()``,
    never through the store's engines (how the core connects is its own business)."""
    import ast

    offences = [
        f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}"
        for path in sorted((ROOT / "plugins").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in ("engine", "read_engine")
    ]
    assert offences == []
