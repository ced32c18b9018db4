"""This checkout's own test helpers (not shipped in the ``hub`` package): ``make run``'s
configuration as a real process. It serves on the fixed development ports (the hub on 8080,
the simulators on 8089–8093), so tests using it never run in parallel with each other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

from hub.testing import wait_until

REPO = Path(__file__).resolve().parent
DEV_CONFIG = "examples/hub.dev.toml"
DEV_URL = "http://127.0.0.1:8080"


@pytest.fixture(scope="session")
def repo() -> Path:
    """The checkout's root (``examples/`` lives there)."""
    return REPO


@contextmanager
def _dev_hub(workdir: Path, **env: str) -> Iterator[list[str]]:
    environ = {k: v for k, v in os.environ.items() if k != "HUB_DISABLE_PLUGINS"}
    environ.setdefault("HUB_SHARED_DIR", str(REPO.parent / "shared"))
    environ.update(env)
    (workdir / "examples").symlink_to(REPO / "examples")  # config paths are relative
    command = [sys.executable, "-m", "hub", "--config", DEV_CONFIG]
    proc = subprocess.Popen(
        [*command, "serve"],
        cwd=workdir,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def ready() -> bool:
        try:
            return httpx.get(f"{DEV_URL}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None  # died: stop waiting

    try:
        if not wait_until(ready, timeout=60) or proc.poll() is not None:
            raise RuntimeError("the dev hub did not come up")
        yield command
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"hub serve exited {proc.returncode}: {err.decode()[-2000:]}")


@pytest.fixture(scope="session")
def dev_hub() -> Callable[..., AbstractContextManager[list[str]]]:
    """``dev_hub(workdir, **env)``: ``make run``'s configuration as a real ``hub serve`` process
    with ``workdir`` as its current directory (``examples/`` linked in, ``var/`` made there),
    every bundled plugin on. Yields the command prefix for further ``hub`` commands against
    it; on leaving, SIGTERM, and the process must exit 0."""
    return _dev_hub
