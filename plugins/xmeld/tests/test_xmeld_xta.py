"""XTA 2 against the gateway simulator, a real SOAP 1.2 server on loopback."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import hub
from hub.testing import free_port, sample_submission, wait_until
from hub_xmeld import xta

AUTHOR = xta.Party("psw:05111999")
READER = xta.Party("ags:05111000")
SEND = {
    "service": "http://www.osci.de/xmeld2511a/xmeld2511aOnlinedienste.wsdl",
    "message_type": "1706",
    "payload_schema": "http://www.osci.de/xmeld2511a",
    "content": b"<xmeld/>",
    "filename": "1706.xml",
}


def client(gw, xoev_dir: Path, author: xta.Party = AUTHOR, timeout: float = 5) -> xta.XtaClient:
    return xta.XtaClient(
        xoev_dir,
        management_url=f"{gw.url}/management",
        send_url=f"{gw.url}/send",
        msgbox_url=f"{gw.url}/msgbox",
        author=author,
        timeout=timeout,
    )


def test_account_message_id_send_and_report(gateway, xoev_dir) -> None:
    c = client(gateway, xoev_dir)
    assert c.check_account_active() is True
    message_id = c.create_message_id()
    assert message_id.startswith("urn:de:xta:messageid:")
    c.send_message(message_id, READER, **SEND)
    stored = gateway.messages[message_id]
    assert stored.reader == "ags:05111000" and gateway.mailboxes["ags:05111000"] == [message_id]
    report = c.transport_report(message_id)
    assert report.status == 1 and report.server == "hub-xta-simulator"


def test_faults_map_onto_the_error_tree(gateway, xoev_dir) -> None:
    c = client(gateway, xoev_dir)
    gateway.fail_next("sendMessage", "TechnicalProblem")
    with pytest.raises(hub.TransientError, match="XTAWSTechnicalProblem"):
        c.send_message(c.create_message_id(), READER, **SEND)
    gateway.fail_next("sendMessage", "ParameterIsNotValid")
    with pytest.raises(hub.PermanentError, match="ParameterIsNotValid"):
        c.send_message(c.create_message_id(), READER, **SEND)
    with pytest.raises(xta.UnknownMessage):
        c.transport_report("urn:de:xta:messageid:never")
    with pytest.raises(hub.PermanentError, match="PermissionDenied"):
        client(gateway, xoev_dir, xta.Party("psw:nobody")).check_account_active()


def test_requests_are_validated_against_the_wsdl_schemas(gateway, xoev_dir) -> None:
    import httpx
    from lxml import etree

    c = client(gateway, xoev_dir)
    message_id = c.create_message_id()
    metadata = etree.tostring(
        xta.message_metadata(message_id, AUTHOR, READER, "urn:s", "1706", "urn:p", 8)
    ).decode()
    envelope = (
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">'
        f"<env:Header>{metadata}</env:Header><env:Body>"
        '<xta:GenericContentContainer xmlns:xta="http://xoev.de/transport/xta/211">'
        "<xta:ContentContainer/></xta:GenericContentContainer></env:Body></env:Envelope>"
    )
    r = httpx.post(
        f"{gateway.url}/send",
        content=envelope.encode(),
        headers={
            "Content-Type": "application/soap+xml; charset=utf-8; "
            'action="http://www.xta.de/XTA/SendMessage"'
        },
    )
    assert r.status_code == 400
    assert b"MessageSchemaViolationException" in r.content and b"Message" in r.content
    assert gateway.messages == {}


def test_timeouts_and_a_missing_gateway_are_transient(gateway, xoev_dir) -> None:
    gateway.delay = 1.0
    with pytest.raises(hub.TransientError, match="unreachable"):
        client(gateway, xoev_dir, timeout=0.2).check_account_active()
    gateway.delay = 0
    gone = xta.XtaClient(
        xoev_dir,
        management_url=f"http://127.0.0.1:{free_port()}/m",
        send_url="http://127.0.0.1:9/s",
        author=AUTHOR,
        timeout=2,
    )
    with pytest.raises(hub.TransientError):
        gone.check_account_active()


def test_send_once_survives_a_retry_after_the_message_went_out(gateway, xoev_dir, delivery) -> None:
    c = client(gateway, xoev_dir)
    first = xta.send_once(delivery(1), c, READER, **SEND)
    # The process died before the delivery was recorded; the retry must not send again.
    again = xta.send_once(delivery(2), c, READER, **SEND)
    assert again == first and list(gateway.messages) == [first]


def test_send_once_sends_when_the_first_attempt_never_arrived(gateway, xoev_dir, delivery) -> None:
    c = client(gateway, xoev_dir)
    gateway.fail_next("sendMessage", "TechnicalProblem")
    with pytest.raises(hub.TransientError):
        xta.send_once(delivery(1), c, READER, **SEND)
    message_id = xta.send_once(delivery(2), c, READER, **SEND)
    assert list(gateway.messages) == [message_id]
    assert uuid.UUID(message_id.rsplit(":", 1)[-1])


OFFICE = xta.Party("ags:05111000")
ANSWERED = "5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b"


def mailbox_clients(gw, xoev_dir: Path) -> tuple[xta.XtaClient, xta.XtaClient]:
    gw.accounts.add(OFFICE.identifier)
    return client(gw, xoev_dir), client(gw, xoev_dir, OFFICE)


def answer_waiting(gw, office: xta.XtaClient, content: bytes) -> str:
    message_id = office.create_message_id()
    meta = xta.message_metadata(
        message_id, OFFICE, AUTHOR, SEND["service"], "1705", SEND["payload_schema"], len(content)
    )
    return gw.deliver_to(AUTHOR.identifier, meta, content, "1705.xml")


def test_mailbox_list_fetch_close(gateway, xoev_dir) -> None:
    mine, office = mailbox_clients(gateway, xoev_dir)
    assert xta.status_list(mine) == []
    message_id = answer_waiting(gateway, office, b"<answer/>")
    assert xta.status_list(mine) == [xta.Waiting(message_id, "1705")]
    assert xta.fetch(mine, message_id) == b"<answer/>"
    assert xta.status_list(mine) != []  # fetched is not closed
    xta.close(mine, message_id)
    assert xta.status_list(mine) == []
    with pytest.raises(xta.UnknownMessage):
        xta.fetch(mine, message_id)


def test_inbox_applies_an_answer_once_and_closes_it(
    gateway, xoev_dir, delivery, schema, record, parties, statusmitteilung
) -> None:
    from hub_xmeld import inbox

    mine, office = mailbox_clients(gateway, xoev_dir)
    ctx = delivery(1)
    answer_waiting(gateway, office, statusmitteilung(record, parties, ANSWERED))
    run = inbox.process_inbox(ctx.hub, mine, schema, {ANSWERED: ctx.record_id}.get)
    assert (run.applied, run.duplicates) == (1, 0)
    assert xta.status_list(mine) == []
    statuses = [h.status for h in ctx.hub.store.get_record(ctx.record_id).history]
    assert statuses.count("meldebehoerde:continues") == 1


def test_inbox_crash_before_close_does_not_apply_twice(
    gateway, xoev_dir, delivery, schema, record, parties, statusmitteilung
) -> None:
    from hub_xmeld import inbox

    mine, office = mailbox_clients(gateway, xoev_dir)
    ctx = delivery(1)
    answer_waiting(gateway, office, statusmitteilung(record, parties, ANSWERED))
    gateway.fail_next("close", "TechnicalProblem")  # the process "dies" at the close
    with pytest.raises(hub.TransientError):
        inbox.process_inbox(ctx.hub, mine, schema, {ANSWERED: ctx.record_id}.get)
    assert len(xta.status_list(mine)) == 1  # still waiting: fetched again next time
    run = inbox.process_inbox(ctx.hub, mine, schema, {ANSWERED: ctx.record_id}.get)
    assert (run.applied, run.duplicates) == (0, 1) and xta.status_list(mine) == []
    statuses = [h.status for h in ctx.hub.store.get_record(ctx.record_id).history]
    assert statuses.count("meldebehoerde:continues") == 1


def test_inbox_refuses_invalid_and_unknown_answers(
    gateway, xoev_dir, delivery, schema, record, parties, statusmitteilung
) -> None:
    from hub_xmeld import inbox

    mine, office = mailbox_clients(gateway, xoev_dir)
    ctx = delivery(1)
    answer_waiting(gateway, office, b"<not-xmeld/>")
    answer_waiting(gateway, office, statusmitteilung(record, parties, ANSWERED))
    run = inbox.process_inbox(ctx.hub, mine, schema, {}.get)
    assert (run.refused, run.unknown, run.applied) == (1, 1, 0)
    assert xta.status_list(mine) == []


def test_adapter_delivers_a_1700_and_the_answer_finds_the_record(
    gateway, xoev_dir, tmp_path, schema, statusmitteilung, parties
) -> None:
    import base64

    from lxml import etree

    from hub.testing import LiveHub, hub_config
    from hub_xmeld import adapter, inbox

    mine, office = mailbox_clients(gateway, xoev_dir)
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        "xmeld-test-token-0123",
        delivery={"workers": 1, "poll_interval": 0.05, "backoff_initial": 0.05, "backoff_max": 0.1},
        routes=[{"leika": "99115003*", "adapters": ["xmeld"]}],
        adapters={
            "xmeld": {
                "management_url": f"{gateway.url}/management",
                "send_url": f"{gateway.url}/send",
                "msgbox_url": f"{gateway.url}/msgbox",
                "account": AUTHOR.identifier,
                "author_name": "Serviceportal Düsseldorf (hub)",
                "author_email": "hub@example.org",
                "author_address": {
                    "strasse": "Marktplatz",
                    "hausnummer": "2",
                    "postleitzahl": "40213",
                    "wohnort": "Düsseldorf",
                },
                "schema_dir": str(xoev_dir),
                "timeout": 5,
            }
        },
        plugins={"ozg_catalog": {"pvog_enabled": False}},
    )
    gateway.fail_next("sendMessage", "TechnicalProblem")  # the first attempt fails
    with LiveHub(config) as live, live.client("xmeld-test-token-0123") as c:
        data = sample_submission(service={"leika_key": "99115003012000"})
        rid = c.post("/v1/records", json=data).json()["id"]
        assert wait_until(lambda: live.hub.store.get_record(rid).status.value == "delivered")
        rec = live.hub.store.get_record(rid)
        [message_id] = gateway.mailboxes[READER.identifier]
        stored = gateway.messages[message_id]
        xml = base64.b64decode(stored.container.findtext(".//{*}Message"))
        _, issues = schema.validate_bytes(xml)
        sent = etree.fromstring(xml)
        uuid_sent = sent.findtext(".//nachrichtenUUID")
        assert issues == [] and etree.QName(sent).localname.endswith(".1700")
        assert rec.deliveries[0].attempts == 2
        assert adapter.record_for(live.hub.store, uuid_sent) == rid
        # The office answers; the inbox puts its words into the record's history.
        answer_waiting(gateway, office, statusmitteilung(rec, parties, uuid_sent))
        run = inbox.process_inbox(
            live.hub, mine, schema, lambda u: adapter.record_for(live.hub.store, u)
        )
        assert run.applied == 1
        assert live.hub.store.get_record(rid).history[-1].status == "meldebehoerde:continues"


def test_inbox_poller_applies_answers_and_raises_while_the_gateway_is_away(
    gateway, xoev_dir, delivery, schema, record, parties, statusmitteilung
) -> None:
    from sqlalchemy import insert

    import hub
    from hub import utcnow
    from hub_xmeld import adapter, tables

    mine, office = mailbox_clients(gateway, xoev_dir)
    ctx = delivery(1)
    poller = adapter.make_inbox(
        {
            "management_url": f"{gateway.url}/management",
            "send_url": f"{gateway.url}/send",
            "msgbox_url": f"{gateway.url}/msgbox",
            "account": AUTHOR.identifier,
            "schema_dir": str(xoev_dir),
            "timeout": 5,
        },
        ctx.hub,
    )
    with ctx.hub.store.transaction() as conn:  # as the adapter records a sent 1700
        conn.execute(
            insert(tables.sent).values(
                nachrichten_uuid=ANSWERED,
                record_id=ctx.record_id,
                message_type="1700",
                xta_message_id="urn:x",
                sent_at=utcnow(),
            )
        )
    answer_waiting(gateway, office, statusmitteilung(record, parties, ANSWERED))
    gateway.fail_next("getStatusList", "TechnicalProblem")
    with pytest.raises(hub.TransientError):  # the core counts it and backs off
        poller.poll()
    assert ctx.hub.store.get_record(ctx.record_id).history[-1].status != "meldebehoerde:continues"
    poller.poll()
    assert ctx.hub.store.get_record(ctx.record_id).history[-1].status == "meldebehoerde:continues"
    assert xta.status_list(mine) == []  # closed after it was processed


def test_xta_simulator_command(xoev_dir, schema, anmeldung, parties) -> None:
    """The command runs the gateway and a Meldebehörde that answers a 1704 with 1705, then
    (with --result-delay) 1707, through the gateway's mailboxes."""
    import subprocess
    import sys

    from hub_xmeld import anmeldung as form
    from hub_xmeld import answers, messages

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub",
            "xta",
            "simulator",
            "--port",
            str(port),
            "--account",
            AUTHOR.identifier,
            "--office",
            READER.identifier,
            "--result-delay",
            "0.3",
            "--schema-dir",
            str(xoev_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        c = xta.XtaClient(
            xoev_dir,
            management_url=f"{base}/management",
            send_url=f"{base}/send",
            msgbox_url=f"{base}/msgbox",
            author=AUTHOR,
            timeout=2,
        )

        def up() -> bool:
            try:
                return c.check_account_active()
            except hub.TransientError:
                return False

        assert wait_until(up, timeout=20)
        author, reader = parties
        content = messages.validated(
            form.meldeschein_1704(anmeldung, author, reader, messages.Product()), schema
        )
        message_id = c.create_message_id()
        assert message_id.startswith("urn:de:xta:messageid:")
        c.send_message(message_id, READER, **{**SEND, "message_type": "1704", "content": content})
        assert wait_until(lambda: len(xta.status_list(c)) == 2, timeout=20)
        kinds = [
            answers.read_answer(xta.fetch(c, w.message_id), schema).kind for w in xta.status_list(c)
        ]
        assert kinds == ["1705", "1707"]
    finally:
        proc.terminate()
        proc.wait(10)
