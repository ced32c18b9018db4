"""FIT-Connect benchmark: decrypt, verify and map one submission with a 1 MB attachment.

A submission (metadata, data and one 1 MB attachment, each a JWE with RSA-OAEP-256/A256GCM for
a 4096-bit destination key) is sent to the FIT-Connect simulator on loopback and fetched once.
Then, medians over ``--repeat`` rounds, timed in turn within each round:

- ours: :func:`hub_fitconnect.subscriber.process` — header checks, decryption with the kid
  check, metadata schema validation, data schema validation, SHA-512 of data and attachment,
  the record mapping (pydantic) and the attachment's SHA-256;
- baseline: joserfc's bare ``jwe.decrypt_compact`` of the same three JWEs.

    python bench/fitconnect.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import uvicorn
from joserfc import jwe

from hub.testing import free_port, wait_until
from hub_fitconnect import crypto, schemas
from hub_fitconnect.api import SubmissionApi
from hub_fitconnect.sim.service import FitConnectSimulator
from hub_fitconnect.subscriber import Destination, DestinationSettings, fetch, process

DEST = str(uuid.uuid4())
LEIKA = "99050012104000"
SCHEMA_URI = "https://schema.example.org/gewerbeanmeldung/1.0.0/schema.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    enc = crypto.new_key_pair("bench-enc", use="enc")
    sig = crypto.new_key_pair("bench-sig", use="sig")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = FitConnectSimulator(url)
    sim.add_client("sub", "secret-secret-secret-secret-0123", DEST)
    sim.add_client("send", "secret-secret-secret-secret-0123")
    sim.add_destination(
        DEST,
        crypto.public_jwk(enc),
        crypto.public_jwk(sig),
        leika=LEIKA,
        regions=["DE05111"],
        schema_uri=SCHEMA_URI,
    )
    server = uvicorn.Server(uvicorn.Config(sim.app, port=port, log_config=None))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    threading.Thread(target=server.run, daemon=True).start()
    assert wait_until(lambda: server.started)

    (work / "enc.jwk").write_text(json.dumps(enc))
    (work / "sig.jwk").write_text(json.dumps(sig))
    (work / "data.schema.json").write_text(
        json.dumps(
            {
                "type": "object",
                "required": ["betrieb"],
                "properties": {"betrieb": {"type": "object", "required": ["name"]}},
            }
        )
    )
    os.environ["BENCH_FC_SECRET"] = "secret-secret-secret-secret-0123"
    dest = Destination(
        DestinationSettings(
            destination_id=DEST,
            submission_api=url,
            token_url=f"{url}/token",
            client_id="sub",
            client_secret="env:BENCH_FC_SECRET",
            decryption_key=f"file:{work / 'enc.jwk'}",
            signing_key=f"file:{work / 'sig.jwk'}",
            ars="051110000000",
            data_schemas={SCHEMA_URI: str(work / "data.schema.json")},
        )
    )
    api = SubmissionApi(url, f"{url}/token", "send", "secret-secret-secret-secret-0123")
    key = crypto.check_encryption_key(api.key(DEST, "bench-enc"))
    attachment = os.urandom(1024 * 1024)
    aid = str(uuid.uuid4())
    created = api.create(
        {
            "destinationId": DEST,
            "announcedAttachments": [aid],
            "publicService": {"name": "x", "identifier": f"urn:de:fim:leika:leistung:{LEIKA}"},
        }
    )
    api.upload(
        created["submissionId"],
        aid,
        crypto.encrypt(attachment, key, cty="application/octet-stream"),
    )
    data = json.dumps({"betrieb": {"name": "Bäckerei"}}).encode()
    metadata = {
        "$schema": schemas.schema_uri(),
        "contentStructure": {
            "data": {
                "hash": {"type": "sha512", "content": crypto.sha512(data)},
                "submissionSchema": {"schemaUri": SCHEMA_URI, "mimeType": "application/json"},
            },
            "attachments": [
                {
                    "hash": {"type": "sha512", "content": crypto.sha512(attachment)},
                    "purpose": "attachment",
                    "mimeType": "application/octet-stream",
                    "attachmentId": aid,
                }
            ],
        },
    }
    api.submit(
        created["submissionId"],
        {
            "encryptedMetadata": crypto.encrypt(
                json.dumps(metadata).encode(), key, cty="application/json"
            ),
            "encryptedData": crypto.encrypt(data, key, cty="application/json"),
        },
    )
    fetched = fetch(dest, created["submissionId"])
    tokens = [
        fetched.submission["encryptedMetadata"],
        fetched.submission["encryptedData"],
        *fetched.attachments.values(),
    ]
    private = crypto.load_key(enc)
    registry = jwe.JWERegistry(algorithms=crypto.JWE_ALGORITHMS)
    registry.max_ciphertext_length = 8 * 1024 * 1024  # the library's bare decrypt, sized to fit

    def ours() -> None:
        process(dest, fetched)

    def baseline() -> None:
        for token in tokens:
            jwe.decrypt_compact(token, private, registry=registry)

    ours()
    baseline()  # warm-up
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for _ in range(args.repeat):
        for name, fn in (("ours", ours), ("baseline", baseline)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"{args.repeat} rounds, medians (1 MB attachment, RSA-4096, A256GCM):")
    print(f"  ours: decrypt + verify + map         {med['ours']:.2f} ms")
    print(f"  baseline: joserfc decrypt of 3 JWEs  {med['baseline']:.2f} ms")
    print(f"  ours / baseline = {med['ours'] / med['baseline']:.2f}")
    server.should_exit = True


if __name__ == "__main__":
    main()
