"""`hub plugin new` makes a connector built like ours: it passes its own tests as generated,
ruff has nothing to say about it, and it imports only the public surface."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hub.core.cli import CliState, build_cli
from hub.core.plugins import PluginManager

ROOT = Path(__file__).resolve().parents[1]


def test_a_new_plugin_passes_its_own_tests(tmp_path: Path) -> None:
    pm = PluginManager(load_entrypoints=False)
    made = CliRunner().invoke(
        build_cli(pm), ["plugin", "new", "acme_crm", "--dir", str(tmp_path)], obj=CliState(None, pm)
    )
    assert made.exit_code == 0, made.output
    target = tmp_path / "kommunal-hub-acme-crm"
    assert (target / "hub_acme_crm" / "plugin.py").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=target,
        env=env,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "4 passed" in run.stdout
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(ROOT / "pyproject.toml"), "."],
        capture_output=True,
        text=True,
        cwd=target,
    )
    assert lint.returncode == 0, lint.stdout
    for path in target.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hub."):
                assert node.module == "hub.testing", f"{path}: {node.module}"


def test_bad_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    pm = PluginManager(load_entrypoints=False)
    group = build_cli(pm)

    def new(name: str):
        return CliRunner().invoke(
            group, ["plugin", "new", name, "--dir", str(tmp_path)], obj=CliState(None, pm)
        )

    assert new("Acme-CRM").exit_code == 2
    assert new("acme").exit_code == 0
    again = new("acme")
    assert again.exit_code == 2 and "exists already" in again.output
