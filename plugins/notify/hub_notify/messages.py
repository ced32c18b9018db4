"""Messages from templates (plain German first, English on request): the text, the e-mail
around it (with the calendar entry of an appointment and a working unsubscribe), the letter
as PDF for the office's print queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
)

from hub import utcnow

BERLIN = ZoneInfo("Europe/Berlin")
BUNDLED = PackageLoader("hub_notify", "templates")


@lru_cache(maxsize=8)
def templates(own: str | None) -> Environment:
    """The templates: the municipality's own directory first, then the bundled ones."""
    loaders: list[BaseLoader] = [FileSystemLoader(own)] if own else []
    return Environment(
        loader=ChoiceLoader([*loaders, BUNDLED]),
        undefined=StrictUndefined,  # a template asking for what is not there fails loudly
        keep_trailing_newline=True,
        autoescape=False,  # plain text, never HTML
    )


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


def render(
    event: str,
    language: str,
    values: dict[str, Any],
    *,
    leika: str | None = None,
    own: str | None = None,
) -> Text:
    """The message ``event`` in ``language`` (the service's own template where there is one):
    the template's first line is the subject."""
    names = [f"{language}/{leika}/{event}.txt"] if leika else []
    found = templates(own).select_template([*names, f"{language}/{event}.txt"])
    text = found.render(**values)
    subject, _, body = text.partition("\n\n")
    return Text(subject.strip(), body.strip() + "\n")


def appointment_values(payload: dict[str, Any]) -> dict[str, str] | None:
    """The appointment as people read it (local day and time, the place)."""
    found = payload.get("appointment")
    if not found:
        return None
    start = datetime.fromisoformat(found["start"]).astimezone(BERLIN)
    return {"day": f"{start:%d.%m.%Y}", "time": f"{start:%H:%M}", "place": found["place"]}


def calendar(
    payload: dict[str, Any], summary: str, cancelled: bool, *, moved: bool = False
) -> bytes:
    """The appointment as an iCalendar entry (RFC 5545): a request; a moved one or its
    cancellation with the same UID and a higher sequence (calendars update the entry)."""
    from icalendar import Calendar, Event

    found = payload["appointment"]
    start = datetime.fromisoformat(found["start"])
    cal = Calendar()
    cal.add("prodid", "-//hub//notify//DE")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", f"{found['id']}@hub")
    event.add("dtstamp", start)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=int(found.get("minutes") or 30)))
    event.add("summary", summary)
    event.add("location", found["place"])
    # Each change must carry a higher SEQUENCE than the last: the time of the change is one.
    event.add("sequence", int(utcnow().timestamp()) if (cancelled or moved) else 0)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()


def email(
    text: Text,
    *,
    sender: str,
    sender_name: str,
    to: str,
    message_id: str,
    unsubscribe_url: str | None,
    when: datetime,
    ics: bytes | None = None,
    cancelled: bool = False,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender))
    message["To"] = to
    message["Subject"] = text.subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    message.set_content(text.body, charset="utf-8")
    if ics is not None:
        method = "CANCEL" if cancelled else "REQUEST"
        message.add_attachment(
            ics, maintype="text", subtype="calendar", filename="termin.ics",
            params={"method": method},
        )  # fmt: skip
    return message


def letter(text: Text, *, sender_name: str, address: list[str], when: datetime) -> bytes:
    """A DIN 5008-like letter: sender line, address field, date, subject, text."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = "windows-1252"  # „ “ – € as well as umlauts
    pdf.set_title(text.subject)
    pdf.set_margins(25, 20, 20)
    pdf.add_page()

    def line(words: str, size: float = 11, height: float = 5.5, bold: bool = False) -> None:
        pdf.set_font("Helvetica", "B" if bold else "", size)
        pdf.multi_cell(0, height, _printable(words), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line(sender_name, 8)
    pdf.set_y(50)
    for part in address:
        line(part)
    pdf.set_y(100)
    line(f"{when.astimezone(BERLIN):%d.%m.%Y}")
    pdf.ln(6)
    line(text.subject, bold=True)
    pdf.ln(4)
    line(text.body)
    return bytes(pdf.output())


def _printable(words: str) -> str:
    """Text the PDF's standard font can show (windows-1252)."""
    words = words.replace("ẞ", "SS")
    return words.encode("cp1252", "replace").decode("cp1252")


__all__ = ["Text", "appointment_values", "calendar", "email", "letter", "render"]
