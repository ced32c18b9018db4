"""XTA over mutual TLS: the gateway simulator behind uvicorn with a client-certificate check."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import hub
from hub.testing import free_port, wait_until
from hub_xmeld import adapter, xta_schema, xta_sim

ACCOUNT = "psw:05111999"


def _issue(name: str, issuer=None, issuer_key=None, *, ca=False, server=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(
            issuer.subject if issuer else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        )
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key((issuer_key or key).public_key()),
            critical=False,
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
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert, key


def _write(path: Path, cert, key=None) -> tuple[str, str | None]:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is None:
        return str(path.with_suffix(".crt")), None
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path.with_suffix(".crt")), str(path.with_suffix(".key"))


@pytest.fixture
def tls_gateway(tmp_path: Path, xoev_dir: Path):
    ca, ca_key = _issue("hub test CA", ca=True)
    ca_file, _ = _write(tmp_path / "ca", ca)
    server_cert, server_key = _write(
        tmp_path / "server", *_issue("gateway", ca, ca_key, server=True)
    )
    client_cert, client_key = _write(tmp_path / "client", *_issue(ACCOUNT, ca, ca_key))
    gw = xta_sim.XtaGateway(xta_schema.compile_schema(xoev_dir), accounts={ACCOUNT})
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            gw.app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            ssl_certfile=server_cert,
            ssl_keyfile=server_key,
            ssl_ca_certs=ca_file,
            ssl_cert_reqs=ssl.CERT_REQUIRED,
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, timeout=10)
    yield f"https://127.0.0.1:{port}", ca_file, client_cert, client_key
    server.should_exit = True
    thread.join(5)


def settings(url: str, xoev_dir: Path, **tls: str | None) -> adapter.InboxSettings:
    return adapter.InboxSettings(
        management_url=f"{url}/management",
        send_url=f"{url}/send",
        msgbox_url=f"{url}/msgbox",
        account=ACCOUNT,
        schema_dir=str(xoev_dir),
        timeout=5,
        **tls,
    )


def test_mutual_tls_with_the_configured_client_certificate(tls_gateway, xoev_dir) -> None:
    url, ca, cert, key = tls_gateway
    client, _ = settings(url, xoev_dir, client_cert=cert, client_key=key, ca_bundle=ca).client()
    assert client.check_account_active() is True
    assert client.create_message_id().startswith("urn:de:xta:messageid:")


def test_without_a_client_certificate_or_the_right_ca_nothing_goes_through(
    tls_gateway, xoev_dir
) -> None:
    url, ca, cert, key = tls_gateway
    no_cert, _ = settings(url, xoev_dir, ca_bundle=ca).client()
    with pytest.raises(hub.AdapterError):
        no_cert.check_account_active()
    unknown_ca, _ = settings(url, xoev_dir, client_cert=cert, client_key=key).client()
    with pytest.raises(hub.AdapterError):
        unknown_ca.check_account_active()


def test_tls_settings_are_checked_when_the_hub_starts(tmp_path: Path, xoev_dir) -> None:
    with pytest.raises(hub.ConfigurationError, match="go together"):
        settings("https://x", xoev_dir, client_cert=str(tmp_path / "a.crt")).client()
    with pytest.raises(hub.ConfigurationError, match="no such file"):
        settings(
            "https://x", xoev_dir, client_cert=str(tmp_path / "a"), client_key=str(tmp_path / "b")
        ).client()
