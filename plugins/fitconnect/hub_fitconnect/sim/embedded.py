"""The FIT-Connect simulator inside ``hub serve`` (development only), configured by
``[plugins.fitconnect.simulator]``: one destination whose keys and secrets are made in
``keys_dir`` on first start, a subscriber client for it and a sender client. ``make run`` uses it
so that the hub sends to itself: a record goes out through the sender adapter and comes back in
through the subscriber channel."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hub import BackgroundServer
from hub_fitconnect import crypto
from hub_fitconnect.sim.service import FitConnectSimulator


class EmbeddedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8092, ge=1, le=65535)
    keys_dir: str = "var/fitconnect"
    destination_id: str
    leika: str
    regions: list[str]
    schema_uri: str
    callback_url: str | None = None
    key_bits: int = Field(default=4096, ge=2048)


def _secret(path: Path) -> str:
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(os.urandom(33)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


def prepare(s: EmbeddedSettings) -> dict[str, object]:
    """Make the destination's keys and the secrets (once), in ``keys_dir``."""
    directory = Path(s.keys_dir)
    directory.mkdir(parents=True, exist_ok=True)
    made: dict[str, object] = {}
    for use in ("enc", "sig"):
        path = directory / f"destination-{use}.private.jwk.json"
        if not path.exists():
            path.write_text(
                json.dumps(crypto.new_key_pair(f"dev-{use}-1", use=use, bits=s.key_bits))
            )
            path.chmod(0o600)
        made[use] = crypto.public_jwk(json.loads(path.read_text()))
    for name in ("client", "callback"):
        made[name] = _secret(directory / f"{name}.secret")
    return made


class EmbeddedSimulator:
    def __init__(self, s: EmbeddedSettings):
        made = prepare(s)
        self.sim = FitConnectSimulator(f"http://{s.host}:{s.port}")
        self.sim.add_client("hub-subscriber", str(made["client"]), s.destination_id)
        self.sim.add_client("hub-sender", str(made["client"]))
        self.sim.add_destination(
            s.destination_id,
            made["enc"],
            made["sig"],
            leika=s.leika,  # type: ignore[arg-type]
            regions=s.regions,
            schema_uri=s.schema_uri,
            callback_url=s.callback_url,
            callback_secret=str(made["callback"]) if s.callback_url else None,
        )
        self.background = BackgroundServer(self.sim.app, s.host, s.port, name="fitconnect-sim")

    def start(self) -> None:
        self.background.start()

    def stop(self) -> None:
        self.background.stop()
