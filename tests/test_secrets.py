"""Secrets in settings models: by reference only, read by the core, checked by ``hub doctor``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError

from hub import ConfigurationError, Secret
from hub.testing import PluginManager, build_cli


class Settings(BaseModel):
    token: Secret
    spare: list[Secret] = []


def test_a_secret_field_takes_references_and_reads_the_value_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_TEST_TOKEN", "s3cret-value")
    key = tmp_path / "key"
    key.write_text("from-a-file\n")
    s = Settings.model_validate({"token": "env:HUB_TEST_TOKEN", "spare": [{"file": str(key)}]})
    assert s.token.reveal() == "s3cret-value"
    assert s.spare[0].reveal() == "from-a-file"
    # The model carries the reference, never the value: repr, dumps and JSON schema.
    assert "s3cret" not in repr(s) and "s3cret" not in s.model_dump_json()
    assert s.model_dump()["token"] == "env:HUB_TEST_TOKEN"
    assert Settings.model_json_schema()["properties"]["token"]["pattern"] == "^(env|file):.+$"
    key.write_text("rotated")
    assert s.spare[0].reveal() == "rotated"


@pytest.mark.parametrize(
    "value", ["plain-password", "env:", "vault:x", {"env": "A", "file": "B"}, 7]
)
def test_an_inline_secret_is_refused_naming_the_field(value):
    with pytest.raises(ValidationError) as err:
        Settings.model_validate({"token": value})
    (problem,) = err.value.errors()
    assert problem["loc"] == ("token",) and "by reference" in problem["msg"]


def test_an_unset_variable_names_the_field_not_the_value(monkeypatch):
    monkeypatch.delenv("HUB_TEST_UNSET", raising=False)
    s = Settings.model_validate({"token": "env:HUB_TEST_UNSET"})
    with pytest.raises(ConfigurationError, match="token: environment variable HUB_TEST_UNSET"):
        s.token.reveal()
    with pytest.raises(ConfigurationError, match=r"^adapters\.crm\.token:"):
        s.token.reveal("adapters.crm.token")


def _config(tmp_path, secret: str) -> str:
    path = tmp_path / "hub.toml"
    path.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path}/hub.db"
[attachments]
directory = "{tmp_path}/att"
[adapters.crm]
type = "webhook"
url = "http://127.0.0.1:9/x"
secret = "{secret}"
[[routes]]
adapters = ["crm"]
"""
    )
    return str(path)


def test_doctor_reports_a_missing_secret_by_its_table_and_field(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", "bundled")
    monkeypatch.delenv("HUB_TEST_MISSING", raising=False)
    cli = build_cli(PluginManager())
    result = CliRunner().invoke(
        cli, ["--config", _config(tmp_path, "env:HUB_TEST_MISSING"), "doctor"]
    )
    assert result.exit_code == 1
    assert "FAIL  secret adapters.crm.secret" in result.output
    assert "HUB_TEST_MISSING is not set" in result.output

    monkeypatch.setenv("HUB_TEST_MISSING", "a-webhook-secret-long-enough")
    result = CliRunner().invoke(
        cli, ["--config", _config(tmp_path, "env:HUB_TEST_MISSING"), "doctor"]
    )
    assert "ok    secrets" in result.output and "1 reference(s) resolve" in result.output
    assert "a-webhook-secret-long-enough" not in result.output
