"""One appointment as an iCalendar object (RFC 5545, via the icalendar library): what the
citizen puts into their calendar. Time, place and services — no contact data, no token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event

import hub

DEFAULT_MINUTES = 15  # when the booking system does not say how long


def appointment_ics(
    row: dict[str, Any], office: hub.BookingOffice | None, services: list[str]
) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//kommunal-hub//appointments//DE")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{row['id']}@kommunal-hub")
    event.add("dtstamp", datetime.now(UTC))
    start = row["start_at"]
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=row.get("minutes") or DEFAULT_MINUTES))
    event.add("summary", f"Termin: {', '.join(services)}")
    if office is not None:
        where = ", ".join(p for p in (office.name, office.address) if p)
        event.add("location", where)
        if office.geo:
            event.add("geo", office.geo)
        if office.info:
            event.add("description", office.info)
    # A cancelled appointment's object replaces the one in the calendar (same UID).
    event.add("status", "CANCELLED" if row["status"] == "cancelled" else "CONFIRMED")
    event.add("sequence", 1 if row["status"] == "cancelled" else 0)
    cal.add_component(event)
    return cal.to_ical()


__all__ = ["appointment_ics"]
