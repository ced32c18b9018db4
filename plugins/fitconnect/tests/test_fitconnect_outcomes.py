"""What the subscriber does when a submission is not simply fine: swapped content, odd attachment
types, an unverifiable service, our own misconfiguration, lost answers, XML Fachdaten — each
outcome recorded, never a stalled loop, never the applicant's values in an unencrypted event."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from joserfc.jwk import RSAKey
from sqlalchemy import update
from structlog.testing import capture_logs

import hub
from hub import utcnow
from hub.testing import CliState, Hub, PluginManager, build_cli
from hub_fitconnect import crypto, tables
from hub_fitconnect.subscriber import SUBSCRIBER

LEIKA = "99050012104000"
XML_SCHEMA_URI = "urn:example:gewerbe:xml:1.0"  # the conftest's destination knows its XSD

ZERO = {"accepted": 0, "rejected": 0, "held": 0, "failed": 0}


def start(config, *, plugins: PluginManager | None = None, **channel):
    if channel:
        config.channels["fitconnect_subscriber"].update(channel)
    h = Hub(config, plugins=plugins)
    h.start(intake_thread=False)
    sub = h.registry.channel_types["fitconnect_subscriber"].factory(
        dict(h.config.channels["fitconnect_subscriber"]), h
    )
    return h, sub


@pytest.fixture
def subscriber(simulator, subscriber_config):
    h, sub = start(subscriber_config(simulator.url))
    yield h, sub
    h.close()


def outcome(h, submission_id):
    return SUBSCRIBER(h).outcome(submission_id)


def last_event(simulator, case_id, keys):
    token = simulator.sim.events[case_id][-1]
    return crypto.read_set(token, RSAKey.import_key(crypto.public_jwk(keys["sig"])))


def slugs(event) -> set[str]:
    return {p["type"].rsplit("/", 1)[-1] for p in event.payload["problems"]}


def test_content_swapped_after_submission_is_rejected_by_its_authentication_tag(
    simulator, subscriber, send, keys
):
    h, sub = subscriber
    created = send(simulator)
    stored = simulator.sim.submissions[created["submissionId"]]
    # Someone on the way re-encrypts the same data for the destination: hash and schema still
    # fit, only the tag the service signed at submission tells.
    original = crypto.decrypt(stored.data, crypto.load_key(keys["enc"]), expect_kid="dest-enc-1")
    public = crypto.load_key(crypto.public_jwk(keys["enc"]))
    stored.data = crypto.encrypt(original, public, cty="application/json")
    assert sub.poll() == {**ZERO, "rejected": 1}
    assert h.store.list_records(limit=10) == []
    event = last_event(simulator, created["caseId"], keys)
    assert slugs(event) == {"incorrect-authentication-tag"}
    assert [p["instance"] for p in event.payload["problems"]] == ["data"]


def test_a_service_event_without_authentication_tags_is_not_taken(
    simulator, subscriber, send, keys
):
    _, sub = subscriber
    created = send(simulator)
    case = created["caseId"]
    simulator.sim.events[case] = [
        crypto.make_set(
            simulator.sim.key,
            issuer=simulator.url,
            submission_id=created["submissionId"],
            case_id=case,
            event="submit-submission",
            payload={},
        )
    ]
    assert sub.poll() == {**ZERO, "rejected": 1}
    assert slugs(last_event(simulator, case, keys)) == {"missing-authentication-tags"}


class AttachmentsSeenAtAcceptance:
    """A plugin that looks, the moment a record is accepted, at what an adapter would find."""

    def __init__(self):
        self.seen: dict[str, list[str]] = {}

    @hub.hookimpl
    def record_status_changed(self, hub, record_id, status, adapter):
        if status == "accepted" and adapter is None:
            self.seen[record_id] = [a.id for a in hub.attachments.list(record_id)]


def test_attachments_are_stored_in_the_same_unit_of_work_as_the_record(
    simulator, subscriber_config, send
):
    spy = AttachmentsSeenAtAcceptance()
    pm = PluginManager()
    pm.register(spy, name="spy")
    h, sub = start(subscriber_config(simulator.url), plugins=pm)
    try:
        send(simulator, attachments={"a.pdf": b"%PDF-1.4 a", "b.pdf": b"%PDF-1.4 b"})
        assert sub.poll()["accepted"] == 1
        [(record_id, seen)] = spy.seen.items()
        assert len(seen) == 2  # leasable only together with its documents
        record = h.store.get_record(record_id)
        assert {a.filename for a in record.attachments} == {"a.pdf", "b.pdf"}
        assert {a.filename for a in h.attachments.list(record_id)} == {"a.pdf", "b.pdf"}
    finally:
        h.close()


def test_media_types_fit_connect_allows_are_taken_and_a_bad_attachment_id_is_a_reject(
    simulator, subscriber, send, keys
):
    h, sub = subscriber
    odd = send(
        simulator,
        attachments={"x.bin": b"custom", "y.pdf": b"%PDF-1.4 y"},
        described_as={
            "x.bin": {"mimeType": "application/x_custom", "purpose": "report"},
            "y.pdf": {"mimeType": "Application/PDF"},
        },
    )
    bad_id = send(
        simulator,
        attachments={"z.pdf": b"%PDF-1.4 z"},
        described_as={"z.pdf": {"attachmentId": "z" * 32}},
    )
    after = send(simulator)  # the loop goes on behind the bad one
    assert sub.poll() == {**ZERO, "accepted": 2, "rejected": 1}
    odd_record = h.store.get_record(outcome(h, odd["submissionId"]).record_id)
    assert {(a.media_type, a.purpose) for a in odd_record.attachments} == {
        ("application/x_custom", "report"),
        ("Application/PDF", "attachment"),
    }
    assert outcome(h, after["submissionId"]).state == "accepted"
    event = last_event(simulator, bad_id["caseId"], keys)
    assert slugs(event) == {"schema-violation"}
    assert "attachmentId" in event.payload["problems"][0]["detail"]


def test_an_unverifiable_service_event_is_recorded_logged_and_backed_off(
    simulator, subscriber_config, send
):
    h, sub = start(subscriber_config(simulator.url), retry_seconds=60)
    try:
        created = send(simulator)
        simulator.sim.key = RSAKey.generate_key(2048, parameters={"kid": "platform-1"})
        with capture_logs() as logs:
            assert sub.poll() == {**ZERO, "failed": 1}
        row = outcome(h, created["submissionId"])
        assert row.state == "unverified" and row.attempts == 1
        assert "submit-submission" in row.reason
        assert row.next_attempt_at > utcnow() + timedelta(seconds=50)
        [line] = [e for e in logs if e["event"] == "fitconnect_submission_unverified"]
        assert line["submission_id"] == created["submissionId"]
        assert line["case_id"] == created["caseId"] and "submit-submission" in line["reason"]
        assert sub.poll() == ZERO  # backing off: not fetched again on every poll
        with h.store.transaction() as conn:
            conn.execute(update(tables.received).values(next_attempt_at=utcnow()))
        assert sub.poll() == {**ZERO, "failed": 1}
        row = outcome(h, created["submissionId"])
        assert row.attempts == 2 and row.next_attempt_at > utcnow() + timedelta(seconds=110)
        assert h.store.list_records(limit=10) == []
    finally:
        h.close()


def test_reject_reasons_name_field_and_rule_never_the_applicants_values(
    simulator, subscriber, send, keys
):
    h, sub = subscriber
    pattern = send(
        simulator,
        data={
            "betrieb": {"name": "B"},
            "antragsteller": {"nachname": "N", "staatsangehoerigkeit": "deutsch"},
        },
    )
    long_name = "Geheimname" * 60  # longer than the record's 500 characters
    mapping = send(
        simulator, data={"betrieb": {"name": "B"}, "antragsteller": {"nachname": long_name}}
    )
    date = send(
        simulator,
        data={
            "betrieb": {"name": "B"},
            "antragsteller": {"nachname": "N", "geburtsdatum": "1990-13-45"},
        },
    )
    assert sub.poll() == {**ZERO, "rejected": 3}
    for created, secret, field in (
        (pattern, "deutsch", "antragsteller/staatsangehoerigkeit"),
        (mapping, "Geheimname", "applicant.family_name"),
        (date, "1990-13-45", "antragsteller/geburtsdatum"),
    ):
        event = last_event(simulator, created["caseId"], keys)
        text = json.dumps(event.payload)
        assert secret not in text and field in text
        assert secret not in outcome(h, created["submissionId"]).reason


def test_our_own_misconfiguration_holds_the_submission_until_fixed(
    simulator, subscriber_config, send, tmp_path
):
    config = subscriber_config(simulator.url)
    config.routes[0].leika = "99115*"  # no route for this service: the hub's mistake
    h, sub = start(config, retry_seconds=3600)
    created = send(simulator)
    try:
        with capture_logs() as logs:
            assert sub.poll() == {**ZERO, "held": 1}
        row = outcome(h, created["submissionId"])
        assert row.state == "held" and "service.leika_key: routable" in row.reason
        assert simulator.sim.submissions[created["submissionId"]].state == "submitted"
        assert any(e["event"] == "fitconnect_submission_held" for e in logs)
        assert b'hub_fitconnect_submissions_retried_total{state="held"} 1.0' in h.metrics.render()
        assert h.plugins.health(h)[0][:2] == ("fitconnect: subscriber", False)
        assert sub.poll() == ZERO
    finally:
        h.close()
    config.routes[0].leika = f"{LEIKA[:5]}*"  # fixed and restarted: taken at once
    h, sub = start(config)
    try:
        assert sub.poll() == {**ZERO, "accepted": 1}
        assert simulator.sim.submissions[created["submissionId"]].state == "accepted"
        assert h.plugins.health(h)[0][1] is True
    finally:
        h.close()


def test_a_lost_answer_to_the_accept_is_settled_and_the_record_knows_its_ids(
    simulator, subscriber, send
):
    h, sub = subscriber
    created = send(simulator)
    simulator.sim.fail_next("POST", "/v2/cases/", 503, after=True)
    assert sub.poll() == {**ZERO, "failed": 1}
    row = outcome(h, created["submissionId"])
    assert row.state == "stored"
    record = h.store.get_record(row.record_id)
    assert record.references == {
        "fitconnect.submission_id": created["submissionId"],
        "fitconnect.case_id": created["caseId"],
        "fitconnect.destination_id": "7e4a3c52-1d0b-4c8e-9a51-2f3b6d8e0c14",
    }
    # The service took the accept: nothing waits any more, and the outcome says so.
    assert sub.poll() == ZERO
    assert outcome(h, created["submissionId"]).state == "accepted"


def test_xml_fachdaten_are_validated_against_their_xsd_and_kept(simulator, subscriber, send, keys):
    h, sub = subscriber
    good = (
        b'<?xml version="1.0"?><gewerbeanmeldung xmlns="urn:example:gewerbe">'
        b"<betrieb>B\xc3\xa4ckerei</betrieb><nachname>\xc3\x98rsted</nachname></gewerbeanmeldung>"
    )
    ok = send(simulator, schema_uri=XML_SCHEMA_URI, body=good)
    invalid = send(
        simulator,
        schema_uri=XML_SCHEMA_URI,
        body=b'<gewerbeanmeldung xmlns="urn:example:gewerbe"><betrieb>x</betrieb>'
        b"</gewerbeanmeldung>",
    )
    dtd = send(
        simulator,
        schema_uri=XML_SCHEMA_URI,
        body=b'<!DOCTYPE g [<!ENTITY e "x">]><gewerbeanmeldung xmlns="urn:example:gewerbe"/>',
    )
    assert sub.poll() == {**ZERO, "accepted": 1, "rejected": 2}
    record = h.store.get_record(outcome(h, ok["submissionId"]).record_id)
    assert record.payload == {
        "fachdaten": {"media_type": "application/xml", "attachment": "fachdaten.xml"}
    }
    assert h.attachments.read(str(record.id), "fachdaten.xml") == good
    assert slugs(last_event(simulator, invalid["caseId"], keys)) == {"schema-violation"}
    details = json.dumps(last_event(simulator, dtd["caseId"], keys).payload)
    assert "dtd_forbidden" in details


def test_outcomes_are_shown_by_the_cli_and_the_api(simulator, subscriber_config, send, tmp_path):
    config = subscriber_config(simulator.url)
    h, sub = start(config, retry_seconds=3600)
    try:
        created = send(simulator)
        simulator.sim.key = RSAKey.generate_key(2048, parameters={"kid": "platform-1"})
        sub.poll()
    finally:
        h.close()
    toml = tmp_path / "hub.toml"
    toml.write_text(f'[store]\nurl = "{config.store.url}"\n')
    plugins = PluginManager()
    result = CliRunner().invoke(
        build_cli(plugins),
        ["--config", str(toml), "fitconnect", "received", "--state", "unverified", "--json"],
        obj=CliState(None, plugins),
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert row["submission_id"] == created["submissionId"] and row["state"] == "unverified"
    assert row["attempts"] == 1 and row["next_attempt_at"]
    from fastapi.testclient import TestClient

    from hub.testing import create_app

    h = Hub(config)
    try:
        with TestClient(create_app(h)) as client:
            assert client.get("/v1/fitconnect/received").status_code == 401
            token = {"Authorization": "Bearer fc-token-0123456789"}
            assert client.get("/v1/fitconnect/received", headers=token).status_code == 403
    finally:
        h.close()
