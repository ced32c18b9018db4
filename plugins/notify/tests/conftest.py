"""Fixtures: a real SMTP server on loopback, and a live hub that tells citizens through it."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from notify_mail import MailServer, RoomyController, notify_config

from hub.testing import LiveHub, TestPki, free_port


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def mail(pki: TestPki) -> Iterator[MailServer]:
    box = MailServer(port=free_port(), ca=pki.ca)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    controller = RoomyController(
        box, hostname=box.host, port=box.port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def office(tmp_path: Path, mail: MailServer) -> Iterator[LiveHub]:
    with LiveHub(notify_config(tmp_path, mail)) as live:
        yield live
