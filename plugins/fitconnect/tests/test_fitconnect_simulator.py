"""The simulator is as strict as the service; the client caches its token."""

from __future__ import annotations

import json
import uuid

import pytest

from hub_fitconnect import crypto
from hub_fitconnect.api import ApiProblem

DEST = "7e4a3c52-1d0b-4c8e-9a51-2f3b6d8e0c14"
LEIKA = "99050012104000"


def new(api, announced: list[str]) -> dict:
    return api.create(
        {
            "destinationId": DEST,
            "announcedAttachments": announced,
            "publicService": {"name": "x", "identifier": f"urn:de:fim:leika:leistung:{LEIKA}"},
        }
    )


def test_strict_like_the_service(simulator, keys) -> None:
    api = simulator.api()
    key = crypto.check_encryption_key(api.key(DEST, "dest-enc-1"))
    aid = str(uuid.uuid4())
    created = new(api, [aid])
    sid = created["submissionId"]
    with pytest.raises(ApiProblem) as unannounced:
        api.upload(sid, str(uuid.uuid4()), crypto.encrypt(b"x", key, cty="application/pdf"))
    assert unannounced.value.status == 422 and "not-announced" in str(unannounced.value)
    other = crypto.load_key(
        crypto.public_jwk(crypto.new_key_pair("other-kid", use="enc", bits=2048))
    )
    with pytest.raises(ApiProblem, match="kid"):
        api.upload(sid, aid, crypto.encrypt(b"x", other, cty="application/pdf"))
    meta = crypto.encrypt(b"{}", key, cty="application/json")
    with pytest.raises(ApiProblem, match="missing-attachments"):
        api.submit(sid, {"encryptedMetadata": meta})
    api.upload(sid, aid, crypto.encrypt(b"x", key, cty="application/pdf"))
    no_cty = meta.split(".", 1)
    header = crypto._b64json(no_cty[0])
    header.pop("cty")
    forged = crypto._b64url(json.dumps(header).encode()) + "." + no_cty[1]
    with pytest.raises(ApiProblem, match="missing-cty"):
        api.submit(sid, {"encryptedMetadata": forged})
    api.submit(sid, {"encryptedMetadata": meta})
    with pytest.raises(ApiProblem) as twice:
        api.submit(sid, {"encryptedMetadata": meta})
    assert twice.value.status == 409
    with pytest.raises(ApiProblem, match="service-not-offered"):
        api.create(
            {
                "destinationId": DEST,
                "announcedAttachments": [],
                "publicService": {"name": "x", "identifier": "urn:de:fim:leika:leistung:1"},
            }
        )


def test_the_token_is_fetched_once_and_renewed_before_it_expires(simulator) -> None:
    api = simulator.api()
    api.destination(DEST)
    api.destination(DEST)
    assert simulator.sim.token_requests == 1
    simulator.sim.token_seconds = 30  # shorter than the renewal margin: renewed every call
    api._token = None
    api.destination(DEST)
    api.destination(DEST)
    assert simulator.sim.token_requests == 3
    bad = type(api)(simulator.url, f"{simulator.url}/token", "sender-1", "wrong")
    import hub

    with pytest.raises(hub.PermanentError, match="token endpoint refused"):
        bad.destination(DEST)
