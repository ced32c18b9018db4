"""Configuration loading and the command line (click's runner over the real commands)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.core.cli import CliState, build_cli
from hub.core.config import load_config, resolve_secret
from hub.core.errors import ConfigurationError
from hub.core.plugins import PluginManager
from hub.testing import sample_submission

ROOT = Path(__file__).resolve().parents[1]

TOML = """
[server]
port = 9001
[store]
url = "sqlite:///{db}"
[[clients]]
name = "portal"
token_sha256 = "{sha}"
scopes = ["records:write"]
municipalities = ["051110000000"]
[[routes]]
leika = "99115005*"
adapters = ["file"]
[adapters.file]
directory = "{outbox}"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(TOML.format(db=tmp_path / "hub.db", sha="ab" * 32, outbox=tmp_path / "out"))
    return path


def test_toml_is_loaded_and_env_overrides_it(config_file: Path, monkeypatch) -> None:
    cfg = load_config(config_file)
    assert cfg.server.port == 9001 and cfg.routes[0].leika == "99115005*"
    monkeypatch.setenv("HUB_SERVER__PORT", "9100")
    monkeypatch.setenv("HUB_ADAPTERS__FILE__DIRECTORY", "/srv/share")
    monkeypatch.setenv("HUB_DELIVERY__MAX_ATTEMPTS", "3")
    cfg = load_config(config_file)
    assert cfg.server.port == 9100
    assert cfg.adapters["file"]["directory"] == "/srv/share"
    assert cfg.delivery.max_attempts == 3
    assert cfg.server.host == "127.0.0.1"  # untouched values keep the file's or default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 'eighty'\n", "server.port"),
        ("[store]\nurl = 1\n", "store.url"),
        ("[serverr]\nport = 1\n", "serverr"),
        ("[[routes]]\nadapters = []\n", "routes.0.adapters"),
        ("[[clients]]\nname='x'\ntoken_sha256='123'\n", "clients.0.token_sha256"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_invalid_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_secret_references(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HUB_TEST_SECRET", "from-env")
    (tmp_path / "s").write_text("from-file\n")
    assert resolve_secret("env:HUB_TEST_SECRET", "x") == "from-env"
    assert resolve_secret({"file": str(tmp_path / "s")}, "x") == "from-file"
    with pytest.raises(ConfigurationError, match="by reference"):
        resolve_secret("plain-inline-secret", "adapters.crm.secret")


@pytest.fixture
def cli(config_file: Path):
    runner = CliRunner()
    plugins = PluginManager()
    group = build_cli(plugins)

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(
            group,
            ["--config", str(config_file), *args],
            input=input,
            obj=CliState(None, plugins),
            catch_exceptions=False,
        )

    return invoke


def test_submit_status_list_retry_dead_letters(cli, tmp_path: Path) -> None:
    rec = tmp_path / "rec.json"
    rec.write_text(json.dumps(sample_submission()))
    out = cli("submit", str(rec), "--idempotency-key", "k1")
    assert out.exit_code == 0, out.output
    rid = json.loads(out.output)["id"]
    again = json.loads(cli("submit", str(rec), "--idempotency-key", "k1").output)
    assert again == {"id": rid, "status": "accepted", "replayed": True}

    shown = cli("status", rid)
    assert shown.exit_code == 0 and "accepted" in shown.output and "file" in shown.output
    assert json.loads(cli("status", rid, "--json").output)["id"] == rid
    assert cli("status", "00000000-0000-0000-0000-000000000000").exit_code == 1
    listed = json.loads(cli("list", "--json").output)
    assert [r["id"] for r in listed] == [rid]
    assert json.loads(cli("list", "--status", "delivered", "--json").output) == []
    assert "no dead letters" in cli("dead-letters").output
    retry = cli("retry", rid)
    assert retry.exit_code == 1 and "no dead-lettered delivery" in retry.output


def test_submit_rejects_bad_input_naming_field(cli, tmp_path: Path) -> None:
    rec = tmp_path / "rec.json"
    rec.write_text(json.dumps(sample_submission(service={"leika_key": "99008001012000"})))
    out = cli("submit", str(rec))
    assert out.exit_code == 1
    assert "service.leika_key" in out.output and "[routable]" in out.output
    rec.write_text("{")
    out = cli("submit", str(rec))
    assert out.exit_code == 1 and "json_invalid" in out.output
    assert json.loads(cli("list", "--json").output) == []


def test_plugins_doctor_config_token_schemas(cli, tmp_path: Path) -> None:
    listed = json.loads(cli("plugins", "--json").output)
    assert {"file", "webhook"} <= {p["name"] for p in listed}
    doctor = cli("doctor")
    assert doctor.exit_code == 0, doctor.output
    assert "ok    store" in doctor.output and "ok    adapter file" in doctor.output
    shown = json.loads(cli("config", "show").output)
    assert shown["server"]["port"] == 9001
    schema = json.loads(cli("config", "schema").output)
    assert "server" in schema["properties"]
    tok = cli("token", "new").output.split()
    import hashlib

    assert hashlib.sha256(tok[1].encode()).hexdigest() == tok[3]
    out_dir = tmp_path / "schemas"
    cli("schemas", "export", str(out_dir))
    for f in (ROOT / "schemas").iterdir():
        assert (out_dir / f.name).read_text() == f.read_text()


def test_doctor_reports_an_unreachable_webhook(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HUB_TEST_SECRET", "0123456789abcdef0123")
    path = tmp_path / "hub.toml"
    path.write_text(f"""
[store]
url = "sqlite:///{tmp_path / "hub.db"}"
[[routes]]
adapters = ["crm"]
[adapters.crm]
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "env:HUB_TEST_SECRET"
""")
    plugins = PluginManager()
    out = CliRunner().invoke(
        build_cli(plugins), ["--config", str(path), "doctor"], obj=CliState(None, plugins)
    )
    assert out.exit_code == 1
    assert "FAIL  adapter crm" in out.output and "not reachable" in out.output


def test_db_upgrade_migrates_every_plugin_and_auto_migrate_off_is_honoured(
    tmp_path: Path, monkeypatch
) -> None:
    """Plugins' tables are the core's business: `hub db upgrade` creates them all, and a hub
    started with auto_migrate = false creates none (plugins never migrate themselves)."""
    from sqlalchemy import create_engine, inspect

    monkeypatch.delenv("HUB_DISABLE_PLUGINS", raising=False)  # every bundled plugin
    db = tmp_path / "hub.db"
    (tmp_path / "hub.toml").write_text(
        f'[store]\nurl = "sqlite:///{db}"\nauto_migrate = false\n'
        '[plugins.ozg_catalog]\n[[routes]]\nadapters = ["file"]\n'
        f'[adapters.file]\ndirectory = "{tmp_path / "out"}"\n'
    )
    from hub.core.config import load_config
    from hub.core.hub import Hub

    h = Hub(load_config(tmp_path / "hub.toml"))
    assert {t.plugin for t in h.registry.tables} >= {
        "bundid",
        "bundesdruckerei",
        "fitconnect",
        "ozg_catalog",
        "xmeld",
    }
    with pytest.raises(ConfigurationError) as behind:
        h.start(intake_thread=False)  # auto_migrate is off: nothing is created
    assert "run `hub db upgrade`" in str(behind.value) and "xmeld" in str(behind.value)
    h.close()
    assert inspect(create_engine(f"sqlite:///{db}")).get_table_names() == []
    plugins = PluginManager()
    result = CliRunner().invoke(
        build_cli(plugins),
        ["--config", str(tmp_path / "hub.toml"), "db", "upgrade"],
        obj=CliState(None, plugins),
    )
    assert result.exit_code == 0, result.output
    assert "fitconnect" in result.output and "xmeld" in result.output
    names = set(inspect(create_engine(f"sqlite:///{db}")).get_table_names())
    assert {"records", "fitconnect_received", "xmeld_sent", "alembic_version_bundid"} <= names
    h = Hub(load_config(tmp_path / "hub.toml"))
    h.start(intake_thread=False)  # current now: starts without migrating
    h.close()
