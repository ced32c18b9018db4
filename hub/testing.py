"""Test helpers for the hub and for plugin authors: real servers on loopback, no mocks.

* :func:`sample_submission` — a valid submission as a dict, with overrides.
* :class:`LiveHub` — a :class:`hub.Hub` serving its real API with uvicorn on a free loopback
  port, with delivery workers, in the test's own process.
* :class:`WebhookReceiver` — a loopback HTTP server that records what it receives and can be
  told to fail, stall or refuse connections, to play a backend.
"""

from __future__ import annotations

import copy
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from hub.core.api import create_app
from hub.core.cli import CliState, build_cli
from hub.core.config import HubConfig, config_from_dict
from hub.core.dispatch import Dispatcher
from hub.core.hub import Hub
from hub.core.plugins import PluginManager
from hub.core.pollers import PollerRunner
from hub.core.record import Record, RecordStatus, Submission

# What plugin tests use besides the helpers below (the modules they come from are private).
__all__ = [
    "CliState",
    "Hub",
    "HubConfig",
    "LiveHub",
    "PluginManager",
    "Received",
    "TestPki",
    "WebhookReceiver",
    "add_staff",
    "as_record",
    "assert_accessible",
    "build_cli",
    "chromium",
    "config_from_dict",
    "console_sign_in",
    "create_app",
    "free_port",
    "html_form",
    "hub_config",
    "postgres_schema",
    "sample_submission",
    "schema_drift",
    "wait_until",
]

SAMPLE: dict[str, Any] = {
    "service": {"leika_key": "99115005104000"},
    "municipality": {"ars": "051110000000"},
    "channel": "koffer",
    "location": {"name": "Stadtbibliothek", "device_id": "koffer-07"},
    "applicant": {
        "given_names": "Erika",
        "family_name": "Mustermann",
        "date_of_birth": "1964-08-12",
        "address": {
            "street": "Heidestraße 17",
            "postal_code": "51147",
            "city": "Köln",
            "country": "DE",
        },
        "identity": {"method": "document_check", "trust_level": "hoch"},
    },
    "payload": {"moving_in_date": "2026-11-01"},
}


def sample_submission(**overrides: Any) -> dict[str, Any]:
    """A valid submission; ``overrides`` replace top-level keys."""
    data = copy.deepcopy(SAMPLE)
    data.update(overrides)
    return data


def as_record(data: dict[str, Any]) -> Record:
    """A submission (as JSON data) turned into a stored-looking record, without a store."""
    import uuid
    from datetime import UTC, datetime

    return Record.model_construct(
        **dict(Submission.model_validate(data)),
        id=uuid.uuid4(),
        received_at=datetime.now(UTC),
        status=RecordStatus.accepted,
        deliveries=[],
        history=[],
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.02
) -> bool:
    """Poll ``predicate`` until true or ``timeout``; returns the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class LiveHub:
    """A hub serving HTTP on loopback in a background thread, workers included."""

    def __init__(
        self,
        config: HubConfig,
        plugins: PluginManager | None = None,
        workers: int | None = None,
        port: int | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ):
        self.hub = Hub(config, plugins, http_transport=http_transport)
        self.hub.start()
        _ = self.hub.adapters
        self.dispatcher = Dispatcher(self.hub, workers)
        self.hub.dispatcher = self.dispatcher
        self.pollers = PollerRunner(self.hub)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(self.hub)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
            )
        )
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LiveHub:
        self.dispatcher.start()
        self.pollers.start()
        self._thread.start()
        if not wait_until(lambda: self._server.started, timeout=10):
            raise RuntimeError("uvicorn did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self.pollers.stop(5)
        self.dispatcher.stop(5)
        self.hub.close()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    finished: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Loopback HTTP server recording POSTs. Script failures with :meth:`fail_next`.

    ``delay`` stalls every request (to make deliveries overlap if they could);
    :meth:`down` closes the listening socket so connections are refused, :meth:`up` reopens it
    on the same port.
    """

    port: int = field(default_factory=free_port)
    delay: float = 0.0
    # With a PKI the receiver speaks HTTPS and demands a client certificate from its CA.
    tls: TestPki | None = None
    received: list[Received] = field(default_factory=list)
    _script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: http.server.ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook"

    def fail_next(
        self, count: int, status: int = 503, headers: dict[str, str] | None = None
    ) -> None:
        with self._lock:
            self._script += [(status, headers or {})] * count

    def up(self) -> WebhookReceiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self.end_headers()

            def do_POST(self) -> None:
                started = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    status, extra = receiver._script.pop(0) if receiver._script else (200, {})
                    if status == 200:
                        receiver.received.append(
                            Received(
                                self.path,
                                {k.lower(): v for k, v in self.headers.items()},
                                body,
                                started,
                                time.monotonic(),
                            )
                        )
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.tls.ca)
            context.load_cert_chain(self.tls.server_cert, self.tls.server_key)
            context.verify_mode = ssl.CERT_REQUIRED
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        self.up()
        try:
            yield self
        finally:
            self.down()


POSTGRES_URL_ENV = "HUB_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def postgres_schema(prefix: str = "hubtest") -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema (dropped afterwards), at $HUB_TEST_POSTGRES_URL
    (default: the machine's 127.0.0.1:5432, database ``test``). Raises if PostgreSQL is absent,
    so tests say so instead of passing silently."""
    import os
    import uuid

    from sqlalchemy import create_engine, text

    base = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            admin.dispose()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright (``$HUB_CHROMIUM``, default
    ``/usr/bin/chromium``; ``make browser`` installs it). Fails, never skips, without it."""
    import os

    import pytest
    from playwright.sync_api import sync_playwright

    path = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.fail(f"{path} is missing: `make browser` installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def assert_accessible(page: Any, name: str) -> None:
    """No serious or critical axe-core finding (WCAG 2.1 A and AA rules) on a Playwright
    page, and its screenshot written as ``$HUB_TEST_ARTIFACTS/<name>.png`` (default
    ``var/test-artifacts``). axe-core comes bundled with axe-playwright-python: offline."""
    import os

    from axe_playwright_python.sync_playwright import Axe

    folder = Path(os.environ.get("HUB_TEST_ARTIFACTS", "var/test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    found = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in found.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"


def add_staff(
    live: Any,
    username: str,
    password: str,
    *,
    roles: list[str],
    municipalities: list[str],
    display_name: str = "",
) -> None:
    """A console account in a test hub (what ``hub staff add`` makes)."""
    from hub.core.staff import StaffStore

    hub_ = live.hub if hasattr(live, "hub") else live
    StaffStore(hub_.store).add(
        username,
        display_name=display_name or username,
        password=password,
        roles=roles,
        municipalities=municipalities,
        by="test",
    )


def console_sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Sign a Playwright page in to the console (German labels)."""
    page.goto(f"{base_url}/console/login")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(f"{base_url}/console/")


def schema_drift(conn: Any, metadata: Any) -> list[Any]:
    """What differs between the tables of ``metadata`` as declared and as the migrations made
    them in the database behind ``conn`` (``store.reading()``): empty when they agree. Other
    tables in the database (the core's, other plugins') are left out."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    ours = set(metadata.tables)
    context = MigrationContext.configure(
        conn, opts={"include_name": lambda name, kind, parent: kind != "table" or name in ours}
    )
    return list(compare_metadata(context, metadata))


def hub_config(store_url: str, outbox: Path, token: str, **sections: Any) -> HubConfig:
    """A small working config for tests: one client holding ``token`` (all municipalities,
    read and write), one route to a ``file`` adapter writing to ``outbox``; ``sections`` add to
    or replace top-level tables (``plugins={...}``, ``server={...}``)."""
    import hashlib

    from hub.core.config import config_from_dict

    data: dict[str, Any] = {
        "store": {"url": store_url},
        "delivery": {"workers": 1, "poll_interval": 0.05},
        "clients": [
            {
                "name": "portal",
                "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
                "scopes": ["records:write", "records:read"],
                "municipalities": ["*"],
            }
        ],
        "routes": [{"adapters": ["file"]}],
        "adapters": {"file": {"directory": str(outbox)}},
        "attachments": {"directory": str(outbox.parent / "attachments")},
    }
    data.update(sections)
    return config_from_dict(data)


def html_form(page: str) -> tuple[str, dict[str, str]]:
    """Action and input values of the first form in an HTML page (auto-submitting SAML forms,
    login pages): what a browser would post next."""
    import html
    import re

    match = re.search(r'<form[^>]*action="([^"]+)"', page)
    if match is None:
        raise AssertionError("the page has no form with an action")
    fields = {
        html.unescape(n): html.unescape(v)
        for n, v in re.findall(r'name="?([A-Za-z_.-]+)"? value="([^"]*)"', page)
    }
    return html.unescape(match.group(1)), fields


@dataclass
class TestPki:
    """A throw-away CA with a server certificate for 127.0.0.1 and a client certificate, as
    PEM files in ``directory`` (for mutual-TLS tests against loopback servers)."""

    directory: Path
    ca: str = ""
    server_cert: str = ""
    server_key: str = ""
    client_cert: str = ""
    client_key: str = ""

    __test__ = False  # not a test class, whatever its name

    def __post_init__(self) -> None:
        ca, ca_key = _issue("hub test CA", ca=True)
        self.ca = _write_pem(self.directory / "ca.crt", ca)
        server, server_key = _issue("127.0.0.1", ca, ca_key, server=True)
        self.server_cert = _write_pem(self.directory / "server.crt", server)
        self.server_key = _write_pem(self.directory / "server.key", server_key)
        client, client_key = _issue("hub test client", ca, ca_key)
        self.client_cert = _write_pem(self.directory / "client.crt", client)
        self.client_key = _write_pem(self.directory / "client.key", client_key)

    def uvicorn_ssl(self) -> dict[str, Any]:
        """uvicorn.Config arguments for a server that demands a client certificate."""
        import ssl

        return {
            "ssl_certfile": self.server_cert,
            "ssl_keyfile": self.server_key,
            "ssl_ca_certs": self.ca,
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
        }


def _issue(
    name: str, issuer: Any = None, issuer_key: Any = None, *, ca: bool = False, server: bool = False
) -> tuple[Any, Any]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer = issuer_key or key
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256()), key


def _write_pem(path: Path, item: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(item, "public_bytes") and hasattr(item, "subject"):
        path.write_bytes(item.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            item.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return str(path)
