"""The XTA gateway simulator and its Meldebehörden inside ``hub serve`` (development only),
configured by ``[plugins.xmeld.simulator]``; ``make run`` uses it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from hub import BackgroundServer
from hub_xmeld import messages, schemas, xta
from hub_xmeld.sim.meldebehoerde import MeldebehoerdeSimulator
from hub_xmeld.sim.xta_gateway import XtaGateway
from hub_xmeld.xta_schema import compile_schema


class SimulatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    accounts: list[str] = Field(default_factory=lambda: ["psw:05111999"])
    offices: list[str] = Field(default_factory=lambda: ["ags:05111000"])
    result_delay: float | None = Field(
        default=None, ge=0, description="Seconds until the office's 1707 without a 1706"
    )
    schema_dir: str | None = None


def office(directory: Path, url: str, account: str, result_delay: float | None) -> Any:
    """A simulated Meldebehörde with its own XTA account at the gateway ``url``."""
    client = xta.XtaClient(
        directory,
        management_url=f"{url}/management",
        send_url=f"{url}/send",
        msgbox_url=f"{url}/msgbox",
        author=xta.Party(account),
        timeout=10,
    )
    authority = messages.Authority(
        account,
        f"Meldebehörde {account} (Simulator)",
        messages.PostalAddress("Rathausplatz", "40213", "Düsseldorf", "1"),
        {"email": "meldebehoerde@simulator.invalid"},
    )
    return MeldebehoerdeSimulator(
        client, schemas.load(directory), authority, result_delay=result_delay
    )


class EmbeddedSimulator:
    def __init__(self, settings: SimulatorSettings):
        directory = schemas.default_dir(settings.schema_dir)
        self.gateway = XtaGateway(
            compile_schema(directory), accounts={*settings.accounts, *settings.offices}
        )
        url = f"http://{settings.host}:{settings.port}"
        self.offices = [office(directory, url, a, settings.result_delay) for a in settings.offices]
        app = self.gateway.app
        app.add_route("/letters", self._letters, methods=["GET"])
        self.background = BackgroundServer(app, settings.host, settings.port, name="xta-simulator")
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(target=o.run, args=(self.stop_event,), name="office", daemon=True)
            for o in self.offices
        ]

    async def _letters(self, request: Request) -> JSONResponse:
        """The letters the offices "posted": Aktenzeichen → Bestätigungscode (development)."""
        return JSONResponse({o.office.kennung: o.codes for o in self.offices})

    def start(self) -> None:
        self.background.start()
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.background.stop()
        for thread in self.threads:
            thread.join(5)
