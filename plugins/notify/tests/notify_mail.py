"""The notify tests' mail server (aiosmtpd on loopback, STARTTLS required; it keeps what it
is given, can refuse an address or take its time) and the hub configuration that uses it."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from hub.testing import hub_config

TOKEN = "notify-test-token-0123"
BOUNCING = "niemand@bounce.example"


@dataclass
class MailServer:
    """What an SMTP server got: each message once it accepted it, and over which TLS."""

    host: str = "127.0.0.1"
    port: int = 0
    ca: str = ""
    received: list[EmailMessage] = field(default_factory=list)
    tls: list[bool] = field(default_factory=list)
    hold_data: float = 0.0  # seconds to wait before answering DATA (a slow server)
    in_data: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address == BOUNCING:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # RFC 5321 4.5.3.1.6: no line longer than 1000 octets with its CRLF (checked here:
        # aiosmtpd's own check misfires on messages over 1 KB after STARTTLS).
        if any(len(line) > 998 for line in envelope.original_content.splitlines()):
            return "500 Line too long (see RFC5321 4.5.3.1.6)"
        # Kept first, answered later: a client that dies meanwhile has still handed it over.
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))
        self.tls.append(session.ssl is not None)
        self.in_data.set()
        if self.hold_data:
            await asyncio.sleep(self.hold_data)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


class RoomySMTP(SMTP):
    line_length_limit = 64 * 1024  # the reader's buffer; the RFC's limit is checked above


class RoomyController(Controller):
    def factory(self) -> SMTP:
        return RoomySMTP(self.handler, **self.SMTP_kwargs)


def notify_config(tmp_path: Path, mail: MailServer, url: str | None = None, **plugin: Any):
    return hub_config(
        url or f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        clients=[
            {
                "name": "office",
                "token_sha256": __import__("hashlib").sha256(TOKEN.encode()).hexdigest(),
                "scopes": ["records:write", "records:read", "admin"],
                "municipalities": ["05111*"],
            }
        ],
        adapters={
            "file": {"directory": str(tmp_path / "out")},
            "notify": {
                "type": "notify",
                "smtp_host": mail.host,
                "smtp_port": mail.port,
                "ca_bundle": mail.ca,
                "sender": "buergerbuero@duesseldorf.example",
            },
        },
        plugins={
            "ozg_catalog": {"pvog_enabled": False},
            "notify": {
                "public_url": "https://hub.duesseldorf.example",
                "sender_name": "Bürgerbüro Düsseldorf",
                "quiet_hours": None,
                "services": {
                    "99085001012000": {
                        "name": "Reisepass",
                        "bring": "den alten Pass und ein biometrisches Foto",
                        "fee": "70,00 Euro",
                    }
                },
                **plugin,
            },
        },
    )
