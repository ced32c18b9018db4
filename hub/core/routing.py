"""Routes choose the adapters a record fans out to (LeiKa glob, ARS glob, channel)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from hub.core.config import RouteConfig
from hub.core.errors import ConfigurationError, IntakeRejected
from hub.core.record import Submission


class Router:
    def __init__(self, routes: list[RouteConfig], adapter_instances: set[str]):
        for n, route in enumerate(routes):
            unknown = [a for a in route.adapters if a not in adapter_instances]
            if unknown:
                raise ConfigurationError(
                    f"routes[{n}] names adapter(s) {unknown} with no [adapters.<name>] table"
                )
        self.routes = routes

    def adapters_for(self, sub: Submission) -> list[str]:
        """Every adapter of every matching route, in config order, each once."""
        chosen: list[str] = []
        for route in self.routes:
            if route.leika and not fnmatchcase(sub.service.leika_key, route.leika):
                continue
            if route.ars and not fnmatchcase(sub.municipality.ars, route.ars):
                continue
            if route.channel and route.channel != sub.channel:
                continue
            chosen += [a for a in route.adapters if a not in chosen]
        return chosen

    def require(self, sub: Submission) -> list[str]:
        adapters = self.adapters_for(sub)
        if not adapters:
            raise IntakeRejected.one(
                "service.leika_key",
                "routable",
                "no route of this hub accepts this service, municipality and channel",
            )
        return adapters
