"""Fixtures: the FIT-Connect simulator on loopback, a destination with real RSA-4096 keys, hubs
that subscribe and send, and a helper that submits like an online service would.

Tests that validate metadata read the schemas from $HUB_FITCONNECT_SCHEMA_DIR (default
../shared/fitconnect beside the repository) and skip, saying so, when they are absent."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hub.testing import free_port, hub_config, wait_until
from hub_fitconnect import crypto, schemas
from hub_fitconnect.api import SubmissionApi
from hub_fitconnect.sim.service import FitConnectSimulator

DEST = "7e4a3c52-1d0b-4c8e-9a51-2f3b6d8e0c14"
LEIKA = "99050012104000"
ARS = "051110000000"
SCHEMA_URI = "https://schema.example.org/gewerbeanmeldung/1.0.0/schema.json"
DATA_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["betrieb", "antragsteller"],
    "properties": {
        "betrieb": {"type": "object", "required": ["name"]},
        "antragsteller": {
            "type": "object",
            "required": ["nachname"],
            "properties": {
                "nachname": {"type": "string"},
                "staatsangehoerigkeit": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "geburtsdatum": {"type": "string", "format": "date"},
            },
        },
    },
}
XML_SCHEMA_URI = "urn:example:gewerbe:xml:1.0"
XSD = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:example:gewerbe"
           xmlns="urn:example:gewerbe" elementFormDefault="qualified">
  <xs:element name="gewerbeanmeldung">
    <xs:complexType><xs:sequence>
      <xs:element name="betrieb" type="xs:string"/>
      <xs:element name="nachname" type="xs:string"/>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>"""
SUB_CLIENT, SEND_CLIENT, SECRET = "subscriber-1", "sender-1", "s3cret-client-secret-0123456789"
CALLBACK_SECRET = "callback-secret-of-at-least-32-characters"


@pytest.fixture(scope="session")
def schema_dir() -> Path:
    directory = schemas.default_dir()
    if not (directory / "metadata.schema.v2.1.0.json").is_file():
        pytest.skip(
            f"needs the FIT-Connect metadata schemas; set {schemas.ENV} (looked in {directory})"
        )
    return directory


@pytest.fixture(scope="session")
def keys() -> dict[str, dict[str, Any]]:
    """The destination's private keys: RSA 4096 as FIT-Connect requires (made once)."""
    return {
        "enc": crypto.new_key_pair("dest-enc-1", use="enc"),
        "sig": crypto.new_key_pair("dest-sig-1", use="sig"),
    }


class Simulator:
    def __init__(self, keys: dict[str, dict[str, Any]], callback_url: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim = FitConnectSimulator(self.url)
        self.sim.add_client(SUB_CLIENT, SECRET, DEST)
        self.sim.add_client(SEND_CLIENT, SECRET)
        self.sim.add_destination(
            DEST,
            crypto.public_jwk(keys["enc"]),
            crypto.public_jwk(keys["sig"]),
            leika=LEIKA,
            regions=["DE05111"],
            schema_uri=SCHEMA_URI,
            callback_url=callback_url,
            callback_secret=CALLBACK_SECRET if callback_url else None,
        )
        self.server = uvicorn.Server(
            uvicorn.Config(self.sim.app, host="127.0.0.1", port=self.port, log_config=None)
        )
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        assert wait_until(lambda: self.server.started, timeout=10)

    def api(self, client: str = SEND_CLIENT) -> SubmissionApi:
        return SubmissionApi(self.url, f"{self.url}/token", client, SECRET, timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def simulator(keys, schema_dir) -> Iterator[Simulator]:
    s = Simulator(keys)
    yield s
    s.stop()


def subscriber_settings(sim_url: str, tmp_path: Path, keys: dict, monkeypatch) -> dict[str, Any]:
    (tmp_path / "enc.jwk").write_text(json.dumps(keys["enc"]))
    (tmp_path / "sig.jwk").write_text(json.dumps(keys["sig"]))
    (tmp_path / "data.schema.json").write_text(json.dumps(DATA_SCHEMA))
    (tmp_path / "data.xsd").write_bytes(XSD)
    monkeypatch.setenv("TEST_FC_SECRET", SECRET)
    monkeypatch.setenv("TEST_FC_CALLBACK", CALLBACK_SECRET)
    return {
        "interval": 0.2,
        "destinations": [
            {
                "destination_id": DEST,
                "submission_api": sim_url,
                "token_url": f"{sim_url}/token",
                "client_id": SUB_CLIENT,
                "client_secret": "env:TEST_FC_SECRET",
                "decryption_key": f"file:{tmp_path / 'enc.jwk'}",
                "signing_key": f"file:{tmp_path / 'sig.jwk'}",
                "callback_secret": "env:TEST_FC_CALLBACK",
                "ars": ARS,
                "data_schemas": {
                    SCHEMA_URI: str(tmp_path / "data.schema.json"),
                    XML_SCHEMA_URI: str(tmp_path / "data.xsd"),
                },
                "applicant": {
                    "family_name": "/antragsteller/nachname",
                    "given_names": "/antragsteller/vorname",
                },
            }
        ],
    }


@pytest.fixture
def subscriber_config(tmp_path, keys, monkeypatch):
    def make(sim_url: str) -> Any:
        return hub_config(
            f"sqlite:///{tmp_path / 'sub.db'}",
            tmp_path / "out",
            "fc-token-0123456789",
            delivery={"workers": 0},
            channels={
                "fitconnect_subscriber": subscriber_settings(sim_url, tmp_path, keys, monkeypatch)
            },
            plugins={"ozg_catalog": {"pvog_enabled": False}},
        )

    return make


@pytest.fixture
def send():
    """Submit like an online service: ``tamper`` names one thing to break on the way."""

    def submit(
        sim: Simulator,
        data: dict | None = None,
        attachments: dict[str, bytes] | None = None,
        tamper: str | None = None,
        schema_uri: str = SCHEMA_URI,
        metadata_extra: dict | None = None,
        described_as: dict[str, dict] | None = None,
        body: bytes | None = None,
    ) -> dict[str, str]:
        """``described_as``: per attachment name, metadata fields to state instead of ours
        (mimeType, purpose, attachmentId); ``body``: raw Fachdaten (XML) instead of JSON."""
        api = sim.api()
        dest = api.destination(DEST)
        key = crypto.check_encryption_key(api.key(DEST, dest["encryptionKid"]))
        if tamper == "other_key":
            other = crypto.new_key_pair(dest["encryptionKid"], use="enc", bits=2048)
            key = crypto.load_key(crypto.public_jwk(other))
        attachments = attachments or {}
        described_as = described_as or {}
        ids = {
            name: described_as.get(name, {}).get("attachmentId", str(uuid.uuid4()))
            for name in attachments
        }
        created = api.create(
            {
                "destinationId": DEST,
                "announcedAttachments": list(ids.values()),
                "publicService": {
                    "name": "Gewerbeanmeldung",
                    "identifier": f"urn:de:fim:leika:leistung:{LEIKA}",
                },
            }
        )
        described = []
        for name, content in attachments.items():
            api.upload(
                created["submissionId"],
                ids[name],
                crypto.encrypt(content, key, cty="application/pdf"),
            )
            digest = crypto.sha512(content if tamper != "attachment_hash" else content + b"x")
            described.append(
                {
                    "hash": {"type": "sha512", "content": digest},
                    "purpose": "attachment",
                    "mimeType": "application/pdf",
                    "attachmentId": ids[name],
                    "filename": name,
                    **described_as.get(name, {}),
                }
            )
        if body is None:
            body = json.dumps(
                data
                if data is not None
                else {
                    "betrieb": {"name": "Bäckerei Ørsted & Söhne"},
                    "antragsteller": {"nachname": "Ørsted", "vorname": "Jürgen"},
                }
            ).encode()
        mime = "application/xml" if schema_uri == XML_SCHEMA_URI else "application/json"
        metadata = {
            "$schema": schemas.schema_uri(),
            "contentStructure": {
                "data": {
                    "hash": {
                        "type": "sha512",
                        "content": crypto.sha512(body + (b"x" if tamper == "data_hash" else b"")),
                    },
                    "submissionSchema": {"schemaUri": schema_uri, "mimeType": mime},
                },
                "attachments": described,
            },
        }
        metadata.update(metadata_extra or {})
        if tamper == "metadata_schema":
            metadata["contentStructure"]["data"]["hash"]["type"] = "md5"
        api.submit(
            created["submissionId"],
            {
                "encryptedMetadata": crypto.encrypt(
                    json.dumps(metadata).encode(), key, cty="application/json"
                ),
                "encryptedData": crypto.encrypt(body, key, cty=mime),
            },
        )
        return created

    return submit
