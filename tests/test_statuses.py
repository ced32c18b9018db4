"""Registered status namespaces: one owner each, listed by the API and the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import hub
from hub.core.errors import ConfigurationError
from hub.core.hub import Hub
from hub.testing import CliState, PluginManager, build_cli, create_app

from .conftest import TOKEN


class Acme:
    @hub.hookimpl
    def register_statuses(self, register):
        register(
            "acme",
            {"received": "ACME has the case", "closed": "ACME closed it", "paper": "On paper"},
            final=["closed"],
            media_break=["paper"],
        )


def test_a_namespace_has_one_owner(make_config) -> None:
    class Copycat:
        @hub.hookimpl
        def register_statuses(self, register):
            register("acme", {"received": "mine too"})

    pm = PluginManager()
    pm.register(Acme(), name="acme")
    pm.register(Copycat(), name="copycat")
    with pytest.raises(
        ConfigurationError,
        match=r"status namespace 'acme' is already registered by '(acme|copycat)'",
    ):
        Hub(make_config(), pm)


@pytest.mark.parametrize(
    ("namespace", "statuses"),
    [("Acme", {"received": "x"}), ("acme", {}), ("acme", {"Received Now": "x"})],
)
def test_namespace_and_names_are_lower_case_identifiers(make_config, namespace, statuses):
    class Bad:
        @hub.hookimpl
        def register_statuses(self, register):
            register(namespace, statuses)

    pm = PluginManager()
    pm.register(Bad(), name="bad")
    with pytest.raises(ConfigurationError, match="plugin 'bad'"):
        Hub(make_config(), pm)


def test_the_api_and_the_cli_list_every_status_with_its_meaning(make_config, tmp_path) -> None:
    pm = PluginManager()
    pm.register(Acme(), name="acme")
    h = Hub(make_config(), pm)
    try:
        from fastapi.testclient import TestClient

        with TestClient(create_app(h)) as c:
            assert c.get("/v1/statuses").status_code == 401
            found = c.get("/v1/statuses", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert found["core"]["dead_letter"].startswith("Delivery gave up")
        assert found["namespaces"]["acme"] == {
            "plugin": "acme",
            "statuses": {
                "received": "ACME has the case",
                "closed": "ACME closed it",
                "paper": "On paper",
            },
            "final": ["closed"],
            "media_break": ["paper"],
        }
        assert h.status_traits("acme:closed") == {"final"}
        assert h.status_traits("acme:paper") == {"media_break"}
        assert h.status_traits("acme:received") == frozenset()
        assert h.status_traits("delivered") == frozenset()
    finally:
        h.close()
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path}/s.db"\n[attachments]\ndirectory = "{tmp_path}/a"\n'
    )
    result = CliRunner().invoke(
        build_cli(pm), ["--config", str(config), "statuses"], obj=CliState(None, pm)
    )
    assert result.exit_code == 0, result.output
    assert "acme:closed" in result.output and "ACME closed it  [acme, final]" in result.output
    assert "On paper  [acme, media_break]" in result.output
    assert "ACME has the case  [acme]" in result.output


@pytest.mark.parametrize("trait", ["final", "media_break"])
def test_final_and_media_break_name_registered_statuses(make_config, trait) -> None:
    class Sloppy:
        @hub.hookimpl
        def register_statuses(self, register):
            register("sloppy", {"closed": "Closed"}, **{trait: ["clsoed"]})

    pm = PluginManager()
    pm.register(Sloppy(), name="sloppy")
    with pytest.raises(ConfigurationError, match=rf"{trait} names unregistered \['clsoed'\]"):
        Hub(make_config(), pm)
