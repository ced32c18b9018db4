"""The hub as a FIT-Connect subscriber, against the simulator on loopback."""

from __future__ import annotations

import hashlib
import json

import pytest
from joserfc.jwk import RSAKey

from hub.testing import Hub
from hub_fitconnect import crypto

DEST = "7e4a3c52-1d0b-4c8e-9a51-2f3b6d8e0c14"


@pytest.fixture
def subscriber(simulator, subscriber_config):
    h = Hub(subscriber_config(simulator.url))
    h.start(intake_thread=False)
    channel = h.registry.channel_types["fitconnect_subscriber"].factory(
        dict(h.config.channels["fitconnect_subscriber"]), h
    )
    yield h, channel
    h.close()


def records(h: Hub):
    return h.store.list_records(limit=100)


def last_event(simulator, case_id: str, keys) -> crypto.SecurityEvent:
    token = simulator.sim.events[case_id][-1]
    return crypto.read_set(token, RSAKey.import_key(crypto.public_jwk(keys["sig"])))


def test_a_submission_becomes_a_record_and_is_accepted(simulator, subscriber, send, keys):
    h, channel = subscriber
    pdf = b"%PDF-1.7 Gewerbeanmeldung " + bytes(range(256)) * 1200  # 300 KB: beyond 64 KB
    created = send(simulator, attachments={"nachweis.pdf": pdf})
    assert channel.poll() == {"accepted": 1, "rejected": 0, "held": 0, "failed": 0}
    [row] = records(h)
    record = h.store.get_record(row.id)
    assert record.service.leika_key == "99050012104000"
    assert record.municipality.ars == "051110000000"
    assert record.applicant.family_name == "Ørsted" and record.applicant.given_names == "Jürgen"
    assert record.payload["betrieb"]["name"] == "Bäckerei Ørsted & Söhne"
    [attachment] = record.attachments
    assert attachment.sha256 == hashlib.sha256(pdf).hexdigest()
    assert h.attachments.read(str(record.id), attachment.id) == pdf
    event = last_event(simulator, created["caseId"], keys)
    assert event.event == "accept-submission" and event.issuer == DEST
    assert event.subject == f"submission:{created['submissionId']}"
    tags = event.payload["authenticationTags"]
    assert set(tags) == {"metadata", "data", "attachments"} and len(tags["attachments"]) == 1
    assert simulator.sim.submissions[created["submissionId"]].state == "accepted"
    assert channel.poll() == {
        "accepted": 0,
        "rejected": 0,
        "held": 0,
        "failed": 0,
    }  # nothing waits now


def test_seen_twice_after_a_crash_it_is_still_one_record(simulator, subscriber, send):
    h, channel = subscriber
    created = send(simulator)
    simulator.sim.fail_next("POST", "/v2/cases/", 503)  # the accept does not get through
    assert channel.poll()["failed"] == 1
    assert len(records(h)) == 1  # stored before the accept was tried
    assert channel.poll()["accepted"] == 1
    assert len(records(h)) == 1
    assert simulator.sim.submissions[created["submissionId"]].state == "accepted"


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("data_hash", "hash-mismatch"),
        ("attachment_hash", "hash-mismatch"),
        ("metadata_schema", "schema-violation"),
        ("other_key", "encryption-issue"),
    ],
)
def test_bad_submissions_are_rejected_with_problems(
    simulator, subscriber, send, keys, tamper, problem
):
    h, channel = subscriber
    created = send(simulator, attachments={"a.pdf": b"%PDF-1.4 x"}, tamper=tamper)
    assert channel.poll() == {"accepted": 0, "rejected": 1, "held": 0, "failed": 0}
    assert records(h) == []
    event = last_event(simulator, created["caseId"], keys)
    assert event.event == "reject-submission"
    types = {p["type"].rsplit("/", 1)[-1] for p in event.payload["problems"]}
    assert problem in types
    assert all({"type", "title", "detail", "instance"} <= set(p) for p in event.payload["problems"])
    assert simulator.sim.submissions[created["submissionId"]].state == "rejected"
    from sqlalchemy import select

    from hub_fitconnect import tables

    with h.store.reading() as conn:  # the outcome and its reason are recorded
        row = conn.execute(select(tables.received)).one()
    assert row.state == "rejected" and problem in row.reason


def test_oversized_tokens_are_refused_before_decrypting(keys, monkeypatch) -> None:
    monkeypatch.setattr(crypto, "MAX_JWE_BYTES", 1000)
    public = crypto.load_key(crypto.public_jwk(keys["enc"]))
    token = crypto.encrypt(b"x" * 2000, public, cty="application/json")
    with pytest.raises(crypto.CryptoRefused) as refused:
        crypto.decrypt(token, crypto.load_key(keys["enc"]), expect_kid="dest-enc-1")
    assert refused.value.reason == "size"


def test_data_must_follow_its_announced_schema(simulator, subscriber, send, keys):
    h, channel = subscriber
    unknown = send(simulator, schema_uri="https://schema.example.org/unknown.json")
    invalid = send(simulator, data={"betrieb": {}})
    assert channel.poll()["rejected"] == 2

    def slugs(c: dict) -> set[str]:
        problems = last_event(simulator, c["caseId"], keys).payload["problems"]
        return {p["type"].rsplit("/", 1)[-1] for p in problems}

    assert slugs(unknown) == {"unsupported-schema"}
    assert slugs(invalid) == {"schema-violation"}
    assert records(h) == []


def test_a_submission_without_a_genuine_service_event_is_not_taken(simulator, subscriber, send):
    h, channel = subscriber
    send(simulator)
    # Someone else's key now signs for the service: the recorded submit event no longer verifies.
    simulator.sim.key = RSAKey.generate_key(2048, parameters={"kid": "platform-1"})
    assert channel.poll() == {"accepted": 0, "rejected": 0, "held": 0, "failed": 1}
    assert records(h) == []


def test_the_jwe_rules(keys) -> None:
    key = crypto.load_key(keys["enc"])
    public = crypto.load_key(crypto.public_jwk(keys["enc"]))
    token = crypto.encrypt(b'{"a": 1}', public, cty="application/json")
    assert crypto.decrypt(token, key, expect_kid="dest-enc-1") == b'{"a": 1}'
    with pytest.raises(crypto.CryptoRefused) as kid:
        crypto.decrypt(token, key, expect_kid="another")
    assert kid.value.reason == "kid"
    rest = token.split(".", 1)[1]
    for header in (
        {"alg": "none", "enc": "A256GCM"},
        {"alg": "dir", "enc": "A256GCM"},
        {"alg": "A256KW", "enc": "A256GCM"},
        {"alg": "RSA-OAEP", "enc": "A128GCM"},
    ):
        forged = crypto._b64url(json.dumps({**header, "kid": "dest-enc-1"}).encode()) + "." + rest
        with pytest.raises(crypto.CryptoRefused) as refused:
            crypto.decrypt(forged, key, expect_kid="dest-enc-1")
        assert refused.value.reason == "algorithm"
    parts = token.split(".")
    tampered = ".".join(
        [*parts[:3], parts[3][:-4] + ("AAAA" if parts[3][-4:] != "AAAA" else "BBBB"), parts[4]]
    )
    for bad, reason in ((token[: len(token) // 2], "format"), (tampered, "decrypt")):
        with pytest.raises(crypto.CryptoRefused) as refused:
            crypto.decrypt(bad, key, expect_kid="dest-enc-1")
        assert refused.value.reason == reason


def test_destination_keys_are_checked(keys) -> None:
    good = crypto.public_jwk(keys["enc"])
    assert crypto.check_encryption_key(good)
    small = crypto.public_jwk(crypto.new_key_pair("small", use="enc", bits=2048))
    for bad in ({**good, "alg": "RSA1_5"}, {**good, "key_ops": ["verify"]}, small):
        with pytest.raises(crypto.CryptoRefused):
            crypto.check_encryption_key(bad)


def test_an_identification_report_gives_the_trust_level(simulator, subscriber, send, keys):
    import base64
    import uuid

    from hub_fitconnect import identity

    report = {
        "reportId": str(uuid.uuid4()),
        "serverIdentity": "https://idp.example",
        "reportTime": "2026-11-21T10:00:00+01:00",
        "identificationTime": "2026-11-21T09:59:00+01:00",
        "idStatus": "success",
        "trustFramework": "eid",
        "levelOfAssurance": "http://bsi.bund.de/eID/LoA/hoch",
    }
    b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    jws = f"{b64({'alg': 'ES256'})}.{b64(report)}.c2ln"
    metadata_2x = {
        "dataSets": [
            {
                "dataSetId": str(uuid.uuid4()),
                "content": jws,
                "schema": {
                    "schemaUri": "https://raw.githubusercontent.com/Governikus/IdentificationReport/2.0.0/schema/identification-report.json",
                    "mimeType": "application/jose",
                },
            }
        ]
    }
    assert identity.identity(metadata_2x) == {"method": "eid", "trust_level": "hoch"}
    metadata_1x = {
        "authenticationInformation": [
            {
                "type": "identificationReport",
                "version": "2.0.0",
                "content": b64(
                    {
                        **report,
                        "levelOfAssurance": "http://eidas.europa.eu/LoA/substantial",
                        "trustFramework": "eidas",
                    }
                ),
            }
        ]
    }
    assert identity.identity(metadata_1x) == {"method": "eidas", "trust_level": "substantiell"}
    failed = {
        "authenticationInformation": [
            {
                "type": "identificationReport",
                "version": "2.0.0",
                "content": b64({**report, "idStatus": "failure"}),
            }
        ]
    }
    assert identity.identity(failed) is None
    assert identity.identity({}) is None


def test_the_report_in_a_submission_reaches_the_record(simulator, subscriber, send):
    import base64
    import uuid

    h, channel = subscriber
    report = {
        "reportId": "r-1",
        "serverIdentity": "https://idp.example",
        "reportTime": "2026-11-21T10:00:00+01:00",
        "identificationTime": "2026-11-21T09:59:00+01:00",
        "trustFramework": "eid",
        "levelOfAssurance": "http://bsi.bund.de/eID/LoA/substantiell",
    }
    part = base64.urlsafe_b64encode(json.dumps(report).encode()).rstrip(b"=").decode()
    content = f"eyJhbGciOiJFUzI1NiJ9.{part}.c2ln"
    send(
        simulator,
        metadata_extra={
            "dataSets": [
                {
                    "dataSetId": str(uuid.uuid4()),
                    "content": content,
                    "hash": {"type": "sha512", "content": crypto.sha512(content.encode())},
                    "schema": {
                        "schemaUri": "https://raw.githubusercontent.com/Governikus/"
                        "IdentificationReport/2.0.0/schema/identification-report.json",
                        "mimeType": "application/jose",
                    },
                }
            ]
        },
    )
    assert channel.poll()["accepted"] == 1
    [row] = records(h)
    identity = h.store.get_record(row.id).applicant.identity
    assert (identity.method, identity.trust_level.value) == ("eid", "substantiell")
