"""The ZMS citizen API double inside ``hub serve`` (development only), configured by
``[plugins.appointments.simulator]``; ``make run`` uses it with the demo offices."""

from __future__ import annotations

from hub import BackgroundServer
from hub_appointments.settings import SimulatorSettings
from hub_appointments.sim.zms import demo


class EmbeddedZms:
    def __init__(self, settings: SimulatorSettings):
        self.simulator = demo()
        self.server = BackgroundServer(
            self.simulator.app(), settings.host, settings.port, name="zms-simulator"
        )

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
