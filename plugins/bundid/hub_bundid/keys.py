"""Keys and certificates: PEM loading and, for development and the simulator, self-signed pairs."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from hub import ConfigurationError


@dataclass(frozen=True)
class KeyPair:
    key_pem: bytes
    cert_pem: bytes

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError("only RSA keys are supported")
        return key

    @property
    def cert_b64(self) -> str:
        """The certificate as it goes into ds:X509Certificate."""
        return cert_b64(self.cert_pem)


def cert_b64(cert_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode()


def cert_pem_from_b64(value: str) -> bytes:
    der = base64.b64decode("".join(value.split()))
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def generate(common_name: str, days: int = 730, bits: int = 3072) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert.public_bytes(serialization.Encoding.PEM),
    )


def load(key_path: str | Path, cert_path: str | Path, what: str) -> KeyPair:
    try:
        pair = KeyPair(Path(key_path).read_bytes(), Path(cert_path).read_bytes())
        _ = pair.private_key
        x509.load_pem_x509_certificate(pair.cert_pem)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{what}: cannot load key/certificate: {exc}") from exc
    return pair


def ensure(directory: Path, name: str, common_name: str) -> KeyPair:
    """Load ``name.key``/``name.crt`` from ``directory``, creating them if absent (dev only)."""
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    if not key_path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        pair = generate(common_name)
        key_path.write_bytes(pair.key_pem)
        key_path.chmod(0o600)
        cert_path.write_bytes(pair.cert_pem)
    return load(key_path, cert_path, name)
