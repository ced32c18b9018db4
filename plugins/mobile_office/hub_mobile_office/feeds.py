"""Where people look: an iCalendar feed (RFC 5545, via the icalendar library) and GeoJSON
(RFC 7946) for maps. Only what is public goes out — place, hours, services; never staff or
devices."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from icalendar import Calendar, Event

from hub_mobile_office.plan import Occurrence

KIND_WORDS = {
    "popup": "Pop-up-Bürgerbüro",
    "buergermobil": "Bürgermobil",
    "koffer_partner": "Bürgerkoffer",
    "home_visit": "Hausbesuche",
}


def ical(occurrences: list[Occurrence], *, name: str, host: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//kommunal-hub//mobile_office//DE")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    stamp = datetime.now(UTC)
    for o in occurrences:
        start, end = o.einsatz.window(o.day)
        event = Event()
        event.add("uid", f"{o.einsatz_id}-{o.day:%Y%m%d}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", f"{KIND_WORDS[o.einsatz.kind]}: {o.einsatz.name}")
        event.add("location", f"{o.einsatz.place.name}, {o.einsatz.place.address}")
        event.add("geo", (o.einsatz.place.lat, o.einsatz.place.lon))
        event.add("description", _description(o))
        cal.add_component(event)
    return cal.to_ical()


def _description(o: Occurrence) -> str:
    """The services offered, each with what to bring and the fee where configured."""
    lines = []
    for service in o.public()["services"]:
        line = service.get("name") or f"Leistung {service['leika']}"
        if service.get("documents"):
            line += " — mitbringen: " + ", ".join(service["documents"])
        if service.get("fee"):
            line += f" — Gebühr: {service['fee']}"
        lines.append(line)
    return "\n".join(lines)


def geojson(occurrences: list[Occurrence]) -> dict[str, Any]:
    """One feature per place, with its coming dates."""
    places: dict[tuple[float, float, str], list[Occurrence]] = defaultdict(list)
    for o in occurrences:
        p = o.einsatz.place
        places[(p.lat, p.lon, p.name)].append(o)
    features = []
    for (lat, lon, _), items in places.items():
        first = items[0].public()
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    **first["place"],
                    "dates": [
                        {
                            "kind": o.einsatz.kind,
                            "name": o.einsatz.name,
                            "start": pub["start"],
                            "end": pub["end"],
                            "services": pub["services"],
                        }
                        for o in items
                        for pub in [o.public()]
                    ],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


__all__ = ["geojson", "ical"]
