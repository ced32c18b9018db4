"""The reference receiver inside ``hub serve`` (development only), configured by
``[plugins.bundesdruckerei.receiver]``; ``make run`` uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub import BackgroundServer, Secret, parse_settings
from hub_bundesdruckerei.sim.receiver import Receiver


class ReceiverSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8091, ge=1, le=65535)
    directory: str = "var/receiver"
    hub_url: str = "http://127.0.0.1:8080"
    callback_token: Secret = Field(description="The token it presents on status callbacks")
    progress_delay: float | None = Field(default=None, ge=0)


class EmbeddedReceiver:
    def __init__(self, raw: dict[str, Any]):
        s = parse_settings(ReceiverSettings, raw)
        token = s.callback_token.reveal("plugins.bundesdruckerei.receiver.callback_token")
        self.receiver = Receiver(
            Path(s.directory),
            f"{s.hub_url.rstrip('/')}/v1/koffer/jwks.json",
            s.hub_url,
            token,
            s.progress_delay,
        )
        self.background = BackgroundServer(
            self.receiver.app, s.host, s.port, name="koffer-receiver"
        )

    def start(self) -> None:
        self.background.start()

    def stop(self) -> None:
        self.background.stop()
