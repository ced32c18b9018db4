"""`make run`'s configuration as real processes: a device registered on the command line runs
the example koffer session; the application reaches the embedded reference receiver, which
calls back, and the hub destroys its copy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_dev_config_runs_a_koffer_session(tmp_path: Path, dev_hub, repo) -> None:
    with dev_hub(tmp_path) as hub:
        registered = subprocess.run(
            [*hub, "koffer", "register", "--name", "koffer-dev", "--municipality", "051110000000"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert registered.returncode == 0, registered.stderr
        session = subprocess.run(
            [
                sys.executable,
                str(repo / "examples" / "koffer_session.py"),
                "--token",
                registered.stdout.strip(),
                "--wait",
                "20",
                "--until",
                "passport_office:received",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert session.returncode == 0, session.stderr
        assert "passport_office:received" in session.stdout, session.stdout
        rid = session.stdout.split("application ", 1)[1].split()[0]
        assert (tmp_path / "var" / "receiver" / rid / "manifest.json").is_file()
        assert not any((tmp_path / "var" / "koffer").glob("case-*"))  # the hub's copy is gone
