"""`hub koffer …`: devices and data, as ops run them."""

from __future__ import annotations

import base64

import pytest
from click.testing import CliRunner

from hub.testing import CliState, PluginManager, build_cli


@pytest.fixture
def cli(master_key, koffer_toml):
    path = koffer_toml()
    runner = CliRunner()
    plugins = PluginManager()
    group = build_cli(plugins)

    def invoke(*args: str):
        return runner.invoke(
            group,
            ["--config", str(path), *args],
            obj=CliState(None, plugins),
            catch_exceptions=False,
        )

    return invoke


def test_register_list_revoke_audit(cli) -> None:
    first = cli("koffer", "register", "--name", "koffer-07", "--municipality", "051110000000")
    assert first.exit_code == 0, first.output
    token = first.stdout.strip().splitlines()[0]
    assert token.startswith("koffer_") and len(token) > 40
    again = cli("koffer", "register", "--name", "koffer-07", "--municipality", "051110000000")
    assert again.exit_code != 0 and "exists already" in again.output
    bad = cli("koffer", "register", "--name", "k 1", "--municipality", "0511")
    assert bad.exit_code != 0 and "name" in bad.output
    listed = cli("koffer", "list").stdout
    assert listed.startswith("koffer-07\t051110000000\t") and listed.rstrip().endswith("-")
    assert token not in listed  # only the hash is kept, never shown again
    assert cli("koffer", "revoke", "koffer-07").exit_code == 0
    assert cli("koffer", "revoke", "koffer-07").exit_code != 0
    assert not cli("koffer", "list").stdout.rstrip().endswith("-")
    trail = cli("koffer", "audit", "--subject", "device:").stdout
    assert "device_registered" in trail and "device_revoked" in trail


def test_master_key_and_purge(cli) -> None:
    key = cli("koffer", "master-key").stdout.strip()
    assert len(base64.b64decode(key)) == 32
    out = cli("koffer", "purge")
    assert out.exit_code == 0 and "0 expired uploads deleted, 0 cases destroyed" in out.stdout
