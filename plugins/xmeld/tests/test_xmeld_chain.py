"""The whole online Anmeldung through a live hub, the XTA gateway simulator and a simulated
Meldebehörde polling its own mailbox: 1704 → 1705, 1706 → 1705/1707, 1700 → 1701, 0010."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from hub.testing import LiveHub, hub_config, wait_until
from hub_xmeld import adapter, messages, xta
from hub_xmeld.sim.meldebehoerde import MeldebehoerdeSimulator

TOKEN = "xmeld-chain-token-0123"
PORTAL = "psw:05111999"
OFFICE = "ags:05111000"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-record.json"


def example(**changes) -> dict:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data.update(changes)
    return data


@pytest.fixture
def chain(gateway, xta_client, xoev_dir, schema, tmp_path):
    """A live hub (xmeld adapter + inbox channel) and an office answering through the gateway."""
    office = MeldebehoerdeSimulator(
        xta_client(gateway, OFFICE),
        schema,
        messages.Authority(
            OFFICE,
            "Stadt Düsseldorf, Bürgerbüro",
            messages.PostalAddress("Marktplatz", "40213", "Düsseldorf", "1"),
            {"email": "buergerbuero@duesseldorf.example"},
        ),
        interval=0.05,
    )
    xta_settings = {
        "management_url": f"{gateway.url}/management",
        "send_url": f"{gateway.url}/send",
        "msgbox_url": f"{gateway.url}/msgbox",
        "account": PORTAL,
        "schema_dir": str(xoev_dir),
        "timeout": 5,
    }
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        delivery={"workers": 1, "poll_interval": 0.05, "backoff_initial": 0.05, "backoff_max": 0.1},
        routes=[{"leika": "991150*", "adapters": ["xmeld"]}],
        adapters={
            "xmeld": {
                **xta_settings,
                "author_name": "Serviceportal Düsseldorf (hub)",
                "author_email": "hub@example.org",
                "author_address": {
                    "strasse": "Marktplatz",
                    "hausnummer": "2",
                    "postleitzahl": "40213",
                    "wohnort": "Düsseldorf",
                },
            }
        },
        pollers={"xmeld_inbox": {**xta_settings, "interval": 0.05}},
        plugins={"ozg_catalog": {"pvog_enabled": False}},
    )
    stop = threading.Event()
    with LiveHub(config) as live:
        threads = [threading.Thread(target=office.run, args=(stop,), daemon=True)]
        for t in threads:
            t.start()
        try:
            yield live, office
        finally:
            stop.set()
            for t in threads:
                t.join(5)


def statuses(live, rid: str) -> list[str]:
    return [h.status for h in live.hub.store.get_record(rid).history]


def waits_for(live, rid: str, status: str) -> bool:
    return wait_until(lambda: status in statuses(live, rid), timeout=15)


def test_anmeldung_from_1704_to_the_meldebestaetigung(chain) -> None:
    live, office = chain
    with live.client(TOKEN) as c:
        r = c.post("/v1/records", json=example())
        assert r.status_code == 202, r.text
        rid = r.json()["id"]
        assert waits_for(live, rid, "meldebehoerde:continues")
        detail = live.hub.store.get_record(rid).history[-1].detail
        [aktenzeichen] = office.codes
        assert f"Aktenzeichen {aktenzeichen}" in detail and "Frist bis" in detail

        wrong = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": "000000"})
        assert wrong.status_code == 202
        assert waits_for(live, rid, "meldebehoerde:code_invalid")

        code = office.codes[aktenzeichen]
        right = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": code})
        assert right.status_code == 202
        again = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": code})
        assert again.status_code == 200
        assert again.json()["nachrichtenUUID"] == right.json()["nachrichtenUUID"]
        assert waits_for(live, rid, "meldebehoerde:registered")
        assert statuses(live, rid).count("xmeld:code_sent") == 2

        items = c.get(f"/v1/records/{rid}/attachments").json()["items"]
        confirmations = [a for a in items if a["purpose"] == "meldebestaetigung"]
        assert len(confirmations) == 3  # applicant, partner and child
        pdf = c.get(f"/v1/records/{rid}/attachments/{confirmations[0]['id']}")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-") and aktenzeichen.encode() in pdf.content
    assert office.sent.count(("1705", PORTAL)) == 2 and ("1707", PORTAL) in office.sent


def test_meldebescheinigung_1700_answered_by_1701(chain) -> None:
    live, _ = chain
    data = example(service={"leika_key": "99115003012000"}, payload={})
    with live.client(TOKEN) as c:
        rid = c.post("/v1/records", json=data).json()["id"]
        assert waits_for(live, rid, "meldebehoerde:certificate_issued")
        [doc] = c.get(f"/v1/records/{rid}/attachments").json()["items"]
        assert doc["purpose"] == "meldebescheinigung" and doc["media_type"] == "application/pdf"


def test_a_rueckweisung_reaches_the_record(chain, gateway, xta_client, anmeldung, parties) -> None:
    """A message the office cannot accept comes back as 0010 with the office's reason."""
    live, _ = chain
    with live.client(TOKEN) as c:
        rid = c.post("/v1/records", json=example()).json()["id"]
        assert waits_for(live, rid, "meldebehoerde:continues")
    # Something claiming to come from the portal, but not valid XMeld, naming the record's 1704.
    sent_uuid = next(u for u, r in _sent(live).items() if r == rid)
    author, reader = parties
    root = messages.bestaetigungscode_1706(anmeldung, "X", author, reader, messages.Product())
    root.find("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID").text = sent_uuid
    root.find("{http://www.osci.de/xmeld2511a}code").addprevious(
        root.makeelement("{http://www.osci.de/xmeld2511a}unerwartet")
    )
    from lxml import etree

    portal = xta_client(gateway, PORTAL)
    message_id = portal.create_message_id()
    portal.send_message(
        message_id,
        xta.Party(OFFICE),
        service=adapter.SERVICE,
        message_type="1706",
        payload_schema="http://www.osci.de/xmeld2511a",
        content=etree.tostring(root),
        filename="1706.xml",
    )
    assert waits_for(live, rid, "meldebehoerde:message_rejected")
    detail = live.hub.store.get_record(rid).history[-1].detail
    assert detail.startswith("Rückweisung: S999")


def _sent(live) -> dict[str, str]:
    from sqlalchemy import select

    from hub_xmeld import tables

    with live.hub.store.reading() as conn:
        return {
            r.nachrichten_uuid: r.record_id
            for r in conn.execute(select(tables.sent.c.nachrichten_uuid, tables.sent.c.record_id))
        }


def test_intake_refuses_what_xmeld_cannot_carry(chain) -> None:
    live, _ = chain
    with live.client(TOKEN) as c:
        bad_name = example()
        bad_name["payload"]["children"][0]["given_names"] = "Jörg \u2603"
        r = c.post("/v1/records", json=bad_name)
        assert r.status_code == 422
        [err] = r.json()["errors"]
        assert err["field"] == "payload.children[0]" and err["rule"] == "xmeld"
        assert err["message"].startswith("vornamen/name: the value 'Jörg \u2603' is not allowed")
        thin = example(payload={"moving_in_date": "2026-11-01"})
        r = c.post("/v1/records", json=thin)
        assert r.status_code == 422
        assert {e["rule"] for e in r.json()["errors"]} == {"schema:required"}
        assert c.get("/v1/records").json()["items"] == []


def test_code_endpoint_errors(chain, gateway) -> None:
    live, _ = chain
    gateway.fail_next("sendMessage", "TechnicalProblem", times=50)  # the 1704 cannot go out yet
    with live.client(TOKEN) as c:
        rid = c.post("/v1/records", json=example()).json()["id"]
        early = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": "ABC123"})
        assert early.status_code == 409 and early.json()["errors"][0]["rule"] == "state"
        missing = c.post(
            "/v1/xmeld/records/00000000-0000-0000-0000-000000000000/bestaetigungscode",
            json={"code": "ABC123"},
        )
        assert missing.status_code == 404
        empty = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": ""})
        assert empty.status_code == 400  # the request's shape, as everywhere in the API
        assert empty.json()["errors"][0]["field"].endswith("code")
        gateway._faults.clear()
        assert waits_for(live, rid, "meldebehoerde:continues")
        bad = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": "AB\u2603"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "code"


def test_the_code_survives_an_outage_and_a_crash_after_sending(chain, gateway) -> None:
    """The 1706 is a follow-up delivery in the hub's outbox: retried through a gateway outage,
    and after a crash between sending and recording it, not sent twice."""
    from sqlalchemy import delete, text

    from hub_xmeld import tables
    from hub_xmeld.bestaetigungscode import task_for

    live, _ = chain
    with live.client(TOKEN) as c:
        rid = c.post("/v1/records", json=example()).json()["id"]
        assert waits_for(live, rid, "meldebehoerde:continues")
        gateway.fail_next("sendMessage", "TechnicalProblem", times=3)
        r = c.post(f"/v1/xmeld/records/{rid}/bestaetigungscode", json={"code": "000000"})
        uuid = r.json()["nachrichtenUUID"]
        assert waits_for(live, rid, "meldebehoerde:code_invalid")  # sent once the gateway is back
    task = task_for(rid, "000000")
    [follow_up] = [d for d in live.hub.store.get_record(rid).deliveries if d.task == task]
    assert follow_up.status.value == "delivered" and follow_up.attempts >= 2
    # As if the process died after the gateway took the message but before it was noted for
    # its answers and the outcome recorded:
    with live.hub.store.transaction() as conn:
        conn.execute(
            text("UPDATE deliveries SET status = 'accepted' WHERE record_id = :r AND task = :t"),
            {"r": rid, "t": task},
        )
        conn.execute(delete(tables.sent).where(tables.sent.c.nachrichten_uuid == uuid))
    before = len(gateway.messages)
    live.dispatcher.wake()
    # The dispatcher takes it again; the transport report says it went out already.
    assert wait_until(lambda: uuid in _sent(live), timeout=10)
    assert len(gateway.messages) == before
    assert wait_until(lambda: live.hub.store.get_record(rid).status.value == "delivered")
    assert statuses(live, rid).count("xmeld:code_sent") == 1  # reported once, not per attempt


def test_a_crash_after_noting_the_sent_message_repeats_nothing(chain, gateway) -> None:
    """Killed after the 1704 went out and was noted for its answers, before the outcome was
    recorded: the retry sends nothing and notes nothing twice."""
    from sqlalchemy import text

    live, _ = chain
    with live.client(TOKEN) as c:
        rid = c.post("/v1/records", json=example()).json()["id"]
        assert waits_for(live, rid, "meldebehoerde:continues")
    noted = {u: r for u, r in _sent(live).items() if r == rid}
    assert len(noted) == 1
    with live.hub.store.transaction() as conn:
        conn.execute(
            text(
                "UPDATE deliveries SET status = 'accepted' "
                "WHERE record_id = :r AND adapter = 'xmeld' AND task = ''"
            ),
            {"r": rid},
        )
    before = len(gateway.messages)
    live.dispatcher.wake()
    assert wait_until(lambda: live.hub.store.get_record(rid).status.value == "delivered")
    assert wait_until(
        lambda: (
            [
                (d.status.value, d.attempts)
                for d in live.hub.store.get_record(rid).deliveries
                if d.adapter == "xmeld"
            ]
            == [("delivered", 2)]
        )
    )
    assert len(gateway.messages) == before
    assert {u: r for u, r in _sent(live).items() if r == rid} == noted


def test_codes_waiting_in_the_old_outbox_move_to_the_hubs(chain, gateway) -> None:
    """A hub upgraded with a code still pending in ``xmeld_outbox`` sends it as a follow-up."""
    import base64

    from sqlalchemy import insert, select

    from hub import utcnow
    from hub_xmeld import tables
    from hub_xmeld.bestaetigungscode import move_legacy_outbox

    live, office = chain
    with live.client(TOKEN) as c:
        rid = c.post("/v1/records", json=example()).json()["id"]
        assert waits_for(live, rid, "meldebehoerde:continues")
    record = live.hub.store.get_record(rid)
    xmeld = live.hub.adapters["xmeld"]
    reader = messages.Authority.meldebehoerde(record.municipality.ars, "Meldebehörde")
    root = messages.bestaetigungscode_1706(
        record, office.codes[next(iter(office.codes))], xmeld.author, reader, messages.Product()
    )
    uuid = root.findtext("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID")
    with live.hub.store.transaction() as conn:
        conn.execute(
            insert(tables.outbox).values(
                nachrichten_uuid=uuid,
                record_id=rid,
                message_type="1706",
                reader=reader.kennung,
                content=base64.b64encode(messages.validated(root, xmeld.schema)).decode(),
                state="pending",
                attempts=0,
                created_at=utcnow(),
            )
        )
    assert move_legacy_outbox(live.hub) == 1  # what hub_startup runs
    assert move_legacy_outbox(live.hub) == 0  # once
    assert waits_for(live, rid, "meldebehoerde:registered")
    assert uuid in _sent(live)
    with live.hub.store.reading() as conn:
        state = conn.execute(
            select(tables.outbox.c.state).where(tables.outbox.c.nachrichten_uuid == uuid)
        ).scalar_one()
    assert state == "moved"


def test_installing_xmeld_changes_nothing_for_records_not_routed_to_it(tmp_path) -> None:
    """A thin Anmeldung (no XMeld payload) routed only to the file adapter is accepted with the
    xmeld plugin installed; routed to the xmeld adapter, xmeld's schema and dry run apply."""
    import hub
    from hub.testing import Hub, PluginManager, sample_submission

    thin = hub.Submission.model_validate(sample_submission())  # 99115005104000, no payload
    assert thin.service.leika_key.startswith("99115005104")
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        plugins={"ozg_catalog": {"pvog_enabled": False}},
    )
    h = Hub(config, PluginManager())
    assert "xmeld" in h.registry.adapter_types  # installed
    h.start(intake_thread=False)
    try:
        accepted = h.intake.submit(thin, client="portal")
        assert h.store.get_record(accepted.record_id).deliveries[0].adapter == "file"
    finally:
        h.close()
