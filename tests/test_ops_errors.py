"""What ops see when something is wrong: one clear line and a non-zero exit instead of a
traceback, passwords never shown, misspelled overrides refused, refusals counted."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from structlog.testing import capture_logs

from hub.testing import LiveHub, free_port, sample_submission

from .conftest import TOKEN

HUB = [sys.executable, "-m", "hub"]


def hub(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_STORE")}
    return subprocess.run(
        [*HUB, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env={**environ, **env}
    )


def one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_serve_with_an_unreachable_postgresql_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://hub:geheim@127.0.0.1:{free_port()}/hub"
    result = hub("serve", "--port", "0", cwd=tmp_path, HUB_STORE__URL=url)
    one_clear_line(result, "store", "cannot be used")
    assert "geheim" not in result.stderr and "hub_serving" not in result.stdout + result.stderr


def test_serve_with_an_unwritable_sqlite_path_says_so_in_one_line(tmp_path: Path) -> None:
    result = hub("serve", "--port", "0", cwd=tmp_path, HUB_STORE__URL="sqlite:////proc/hub/h.db")
    one_clear_line(result, "store.url", "/proc/hub")


def test_a_port_in_use_is_one_line_and_nothing_claims_to_serve(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = hub(
            "serve", "--port", str(port), cwd=tmp_path, HUB_STORE__URL=f"sqlite:///{tmp_path}/h.db"
        )
    finally:
        taken.close()
    one_clear_line(result, f"cannot listen on 127.0.0.1:{port}")
    assert "hub_serving" not in result.stdout + result.stderr


def test_config_show_redacts_passwords_and_the_store_url_may_be_a_reference(
    tmp_path: Path,
) -> None:
    shown = hub(
        "config",
        "show",
        cwd=tmp_path,
        HUB_STORE__URL="postgresql+psycopg://hub:geheim@db.internal/hub",
    )
    assert shown.returncode == 0, shown.stderr
    assert "geheim" not in shown.stdout
    assert (
        json.loads(shown.stdout)["store"]["url"] == "postgresql+psycopg://hub:***@db.internal/hub"
    )
    db = tmp_path / "by-reference.db"
    upgraded = hub(
        "db",
        "upgrade",
        cwd=tmp_path,
        HUB_STORE__URL="env:HUB_TEST_DB_URL",
        HUB_TEST_DB_URL=f"sqlite:///{db}",
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert db.is_file()
    shown = hub("config", "show", cwd=tmp_path, HUB_STORE__URL="env:HUB_TEST_DB_URL")
    assert json.loads(shown.stdout)["store"]["url"] == "env:HUB_TEST_DB_URL"


def test_a_misspelled_environment_section_is_an_error(tmp_path: Path) -> None:
    result = hub("config", "show", cwd=tmp_path, HUB_STOER__URL="sqlite:///x.db")
    one_clear_line(result, "HUB_STOER__URL", "no section [stoer]")


def test_refused_submissions_are_counted_and_logged_without_values(make_config) -> None:
    with LiveHub(make_config()) as live, live.client(TOKEN) as c:
        bad = sample_submission(applicant={"family_name": "Geheim\x07name"})
        with capture_logs() as logs:
            assert c.post("/v1/records", json=bad).status_code == 422
            other = sample_submission(municipality={"ars": "053150000000"})
            assert c.post("/v1/records", json=other).status_code == 403
        metrics = c.get("/metrics").text
    assert (
        'hub_submissions_rejected_total{channel="unknown",rule="string_pattern_mismatch"} 1.0'
        in (metrics)
    )
    assert 'rule="client_municipality"} 1.0' in metrics
    refused = [e for e in logs if e["event"] == "intake_rejected"]
    assert len(refused) == 2
    assert refused[0]["problems"] == ["applicant.family_name: string_pattern_mismatch"]
    assert "Geheim" not in json.dumps(refused, default=str)
