"""What a Bürgerkoffer does against the hub (development): upload a photo, two fingerprints and a
signature with tus (the tuspy client), submit a passport application, follow its status.

The images are synthetic test data made here (a drawn "face", WSQ-shaped fingerprint files, a
signature line); a real koffer sends what its camera, scanner and pad captured.

    .venv/bin/hub --config examples/hub.dev.toml koffer register --name koffer-dev \
        --municipality 051110000000
    .venv/bin/python examples/koffer_session.py --token <the credential printed above>
"""

from __future__ import annotations

import argparse
import hashlib
import io
import time
import uuid

import httpx
from PIL import Image, ImageDraw
from tusclient import client as tus


def photo() -> bytes:
    image = Image.new("RGB", (827, 1063), (232, 236, 240))
    ImageDraw.Draw(image).ellipse((207, 213, 620, 797), fill=(224, 180, 150))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def fingerprint(seed: int) -> bytes:
    comment = b"NIST_COM\nPIX_WIDTH 500\nPIX_HEIGHT 500\nPPI 500\n"
    frame = bytes([0, 0xFF, 0x01, 0xF4, 0x01, 0xF4]) + bytes(7)
    noise = hashlib.shake_256(str(seed).encode()).digest(20_000).replace(b"\xff", b"\xfe")
    return (
        b"\xff\xa0\xff\xa8"
        + (len(comment) + 2).to_bytes(2, "big")
        + comment
        + b"\xff\xa2"
        + (len(frame) + 2).to_bytes(2, "big")
        + frame
        + b"\xff\xa3\x00\x03\x01"
        + noise
        + b"\xff\xa1"
    )


def signature() -> bytes:
    image = Image.new("L", (400, 150), 255)
    ImageDraw.Draw(image).line((10, 120, 390, 30), fill=0, width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def captures() -> list[tuple[str, str, bytes]]:
    """(purpose, media type, bytes) of what the koffer captured for one passport application."""
    return [
        ("photo", "image/jpeg", photo()),
        ("fingerprint", "image/x-wsq", fingerprint(1)),
        ("fingerprint", "image/x-wsq", fingerprint(2)),
        ("signature", "image/png", signature()),
    ]


def upload_all(
    hub: str, token: str, case: str, items: list[tuple[str, str, bytes]]
) -> list[dict[str, object]]:
    """Upload each capture over tus (SHA-256 checksums) into ``case``; returns the
    application's attachment list."""
    uploads = tus.TusClient(
        f"{hub}/v1/koffer/uploads", headers={"Authorization": f"Bearer {token}"}
    )
    attachments: list[dict[str, object]] = []
    for purpose, media_type, data in items:
        uploader = uploads.uploader(
            file_stream=io.BytesIO(data),
            chunk_size=256 * 1024,
            metadata={"purpose": purpose, "case": case},
            upload_checksum=True,
        )
        uploader.upload()
        attachments.append(
            {
                "id": uploader.url.rsplit("/", 1)[-1],
                "purpose": purpose,
                "media_type": media_type,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return attachments


def passport_application(ars: str, attachments: list[dict[str, object]]) -> dict[str, object]:
    """A Reisepass application (LeiKa 99085001012000) of the test person with these captures."""
    return {
        "service": {"leika_key": "99085001012000"},
        "municipality": {"ars": ars},
        "location": {"name": "Stadtbibliothek, Lesesaal"},
        "applicant": {
            "given_names": "Erika",
            "family_name": "Mustermann",
            "date_of_birth": "1964-08-12",
        },
        "attachments": attachments,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hub", default="http://127.0.0.1:8080")
    parser.add_argument("--token", required=True, help="The device credential")
    parser.add_argument("--ars", default="051110000000")
    parser.add_argument("--wait", type=float, default=30, help="Seconds to follow the status")
    parser.add_argument(
        "--until", default="passport_office:ready_for_pickup", help="Stop following at this status"
    )
    args = parser.parse_args()

    case = f"case-{uuid.uuid4()}"
    auth = {"Authorization": f"Bearer {args.token}"}
    attachments = upload_all(args.hub, args.token, case, captures())
    for attachment in attachments:
        print(f"uploaded {attachment['purpose']} ({attachment['size']} bytes)")
    application = passport_application(args.ars, attachments)
    with httpx.Client(base_url=args.hub, headers=auth, timeout=30) as c:
        r = c.post("/v1/koffer/applications", json=application, headers={"Idempotency-Key": case})
        if r.status_code != 202:
            raise SystemExit(f"refused ({r.status_code}): {r.text}")
        rid = r.json()["id"]
        print(f"application {rid} accepted")
        seen: set[str] = set()
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            for entry in c.get(f"/v1/koffer/applications/{rid}").json()["history"]:
                if entry["status"] not in seen:
                    seen.add(entry["status"])
                    print(f"  {entry['at']}  {entry['status']}")
            if args.until in seen:
                break
            time.sleep(0.5)


if __name__ == "__main__":
    main()
