"""Messages to citizens through a real SMTP server on loopback: triggered by a case's status
and by appointments, on the channel of the citizen's choice, once; with a calendar entry, a
working unsubscribe, bounces, letters for the print queue, quiet hours and reminders."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hub_notify import tables
from hub_notify.messages import BERLIN
from hub_notify.schedule import queue_due
from icalendar import Calendar
from notify_mail import BOUNCING, TOKEN, notify_config
from pypdf import PdfReader
from sqlalchemy import select
from structlog.testing import capture_logs

import hub
from hub.testing import Hub, LiveHub, sample_submission, wait_until

PASS = "99085001012000"  # Reisepass Ausstellung


def submit(live: LiveHub, *, email: str | None = "erika@example.org", **wish: Any) -> str:
    data = sample_submission(channel="koffer", service={"leika_key": PASS})
    data["applicant"]["email"] = email
    if wish.get("channels") is not None:
        data["notifications"] = {"consent": True, **wish}
    with live.client(TOKEN) as c:
        r = c.post("/v1/records", json=data)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def history(live: LiveHub, rid: str) -> list[tuple[str, str | None]]:
    with live.client(TOKEN) as c:
        return [(h["status"], h["detail"]) for h in c.get(f"/v1/records/{rid}").json()["history"]]


def told(live: LiveHub, rid: str, status: str) -> bool:
    return wait_until(lambda: any(s == status for s, _ in history(live, rid)), timeout=15)


def test_ready_for_pickup_goes_by_email_once_over_starttls(office, mail) -> None:
    rid = submit(office, channels=["email", "letter"])
    office.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup-1")
    assert told(office, rid, "notify:sent")
    [message] = mail.to("erika@example.org")
    assert mail.tls == [True]  # STARTTLS before anything was handed over
    assert message["Subject"] == "Abholbereit: Reisepass"
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Bürgerbüro Düsseldorf",
        "buergerbuero@duesseldorf.example",
    )
    body = message.get_body(("plain",)).get_content()
    assert "den alten Pass und ein biometrisches Foto" in body and "70,00 Euro" in body
    assert rid[:8].upper() in body
    link = re.search(r"https://hub\.duesseldorf\.example/v1/notify/unsubscribe/\S+", body)
    assert link and message["List-Unsubscribe"] == f"<{link.group(0)}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"]
    # The same status again (a backend repeating itself) sends nothing more.
    office.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup-2")
    office.hub.report_status(rid, "passport_office:received", key="received-1")
    assert told(office, rid, "notify:sent") and wait_until(lambda: len(mail.received) == 2)
    subjects = [m["Subject"] for m in mail.to("erika@example.org")]
    assert subjects == ["Abholbereit: Reisepass", "Ihr Antrag ist in Bearbeitung: Reisepass"]


def test_a_refusal_carries_the_reason_meant_for_the_citizen(office, mail) -> None:
    rid = submit(office, channels=["email"], language="en")
    office.hub.report_status(
        rid, "passport_office:rejected", "Das Foto ist nicht biometrisch.", key="no"
    )
    assert told(office, rid, "notify:sent")
    [message] = mail.received
    assert message["Subject"] == "Your application was refused: Reisepass"
    assert "The reason: Das Foto ist nicht biometrisch." in message.get_content()


@pytest.mark.parametrize(
    ("wish", "why"),
    [({"channels": None}, "chose no way"), ({"channels": ["email"], "consent": False}, "consent")],
)
def test_no_consent_no_message_and_it_is_recorded(office, mail, wish, why) -> None:
    rid = submit(office, **wish)
    office.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup")
    assert told(office, rid, "notify:skipped")
    assert any(s == "notify:skipped" and why in d for s, d in history(office, rid))
    assert mail.received == []


def test_a_refused_address_bounces_and_a_letter_goes_to_the_print_queue(office, mail) -> None:
    rid = submit(office, email=BOUNCING, channels=["email", "letter"])
    office.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup")
    assert told(office, rid, "notify:letter_queued")
    statuses = [s for s, _ in history(office, rid)]
    assert statuses.index("notify:bounced") < statuses.index("notify:letter_queued")
    assert mail.received == []
    with office.client(TOKEN) as c:
        [letter] = c.get("/v1/notify/letters").json()["items"]
        assert (letter["record_id"], letter["event"]) == (rid, "ready_for_pickup")
        pdf = c.get(f"/v1/notify/letters/{letter['id']}.pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        assert "Erika Mustermann" in text and "Heidestraße 17" in text
        assert "51147 Köln" in text and "Abholbereit: Reisepass" in text
        assert c.post(f"/v1/notify/letters/{letter['id']}/printed").status_code == 200
        assert c.get(f"/v1/notify/letters/{letter['id']}.pdf").status_code == 404  # dropped
        assert c.get("/v1/notify/letters").json()["items"] == []
        assert len(c.get("/v1/notify/letters", params={"printed": True}).json()["items"]) == 1


def test_no_reachable_channel_is_a_recorded_skip(office, mail) -> None:
    rid = submit(office, email=None, channels=["email", "postfach"])
    office.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup")
    assert told(office, rid, "notify:skipped")
    assert (
        "notify:skipped",
        "ready_for_pickup: no channel of the citizen's choice reaches them",
    ) in history(office, rid)


def test_the_unsubscribe_link_works_and_later_messages_are_skipped(office, mail) -> None:
    rid = submit(office, channels=["email"])
    office.hub.report_status(rid, "passport_office:received", key="received")
    assert told(office, rid, "notify:sent")
    link = re.search(r"https://\S+/v1/notify/unsubscribe/(\S+)", mail.received[0].get_content())
    assert link
    path = f"/v1/notify/unsubscribe/{link.group(1)}"
    with httpx.Client(base_url=office.url) as browser:
        page = browser.get(path)
        assert page.status_code == 200 and "Keine Nachrichten mehr" in page.text
        assert "notify:unsubscribed" not in [s for s, _ in history(office, rid)]  # GET: nothing
        # The mail program's one-click unsubscribe (RFC 8058).
        done = browser.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "keine Nachrichten mehr" in done.text
        assert browser.get("/v1/notify/unsubscribe/not-a-token-at-all").status_code == 404
    office.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup")
    assert wait_until(
        lambda: any(
            d and "unsubscribed" in d for s, d in history(office, rid) if s == "notify:skipped"
        )
    )
    assert len(mail.received) == 1


def test_a_bounce_reported_later_marks_the_message(office, mail) -> None:
    rid = submit(office, channels=["email"])
    office.hub.report_status(rid, "passport_office:received", key="received")
    assert told(office, rid, "notify:sent")
    with office.client(TOKEN) as c:
        r = c.post("/v1/notify/bounces", json={"message_id": mail.received[0]["Message-ID"]})
        unknown = c.post("/v1/notify/bounces", json={"message_id": "<nope@x>"})
        bad = c.post("/v1/notify/bounces", json={"id": 1})
    assert r.status_code == 200 and r.json()["state"] == "bounced"
    assert unknown.status_code == 404 and bad.status_code == 400
    assert told(office, rid, "notify:bounced")


def test_an_appointment_confirmation_with_calendar_reminders_and_cancellation(office, mail):
    rid = submit(office, channels=["email"])
    start = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0, second=0)
    change = hub.AppointmentChange(
        "a-0001", "booked", "zms", "10", "051110000000", start, "online", (PASS,), rid,
        place="Bürgerbüro Mitte, Marktplatz 1",
    )  # fmt: skip
    office.hub.appointment_changed(change)
    assert wait_until(lambda: len(mail.received) == 1)
    booked = mail.received[0]
    assert booked["Subject"].startswith("Ihr Termin am ")
    [ics] = [p for p in booked.iter_attachments() if p.get_content_type() == "text/calendar"]
    event = Calendar.from_ical(ics.get_content()).walk("VEVENT")[0]
    assert event["DTSTART"].dt == start and str(event["UID"]) == "a-0001@hub"
    assert "Marktplatz 1" in str(event["LOCATION"])
    with office.hub.store.reading() as conn:
        due = dict(conn.execute(select(tables.schedule.c.task, tables.schedule.c.due_at)).all())
    at = f"{start:%Y%m%d%H%M}"
    assert due == {f"reminder48:a-0001:{at}": start - timedelta(hours=48),
                   f"reminder24:a-0001:{at}": start - timedelta(hours=24)}  # fmt: skip
    settings = office.hub.registry.validated["plugins.notify"]
    with hub.SimulatedClock(start - timedelta(hours=47)):
        assert queue_due(office.hub, settings) == 1
        # queued at that (simulated) time: the worker sends it while the clock says so
        assert wait_until(lambda: len(mail.received) == 2)
    assert mail.received[1]["Subject"].startswith("Erinnerung: Ihr Termin am ")
    assert "den alten Pass und ein biometrisches Foto" in mail.received[1].get_content()
    office.hub.appointment_changed(
        hub.AppointmentChange(
            "a-0001", "cancelled", "zms", "10", "051110000000", start, "online", (PASS,), rid,
            reason="Einsatz abgesagt: Wasserschaden",
        )
    )  # fmt: skip
    assert wait_until(lambda: len(mail.received) == 3)
    cancelled = mail.received[2]
    assert (
        "Der Grund: Einsatz abgesagt: Wasserschaden" in cancelled.get_body(("plain",)).get_content()
    )
    [ics] = [p for p in cancelled.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert Calendar.from_ical(ics.get_content())["METHOD"] == "CANCEL"
    with office.hub.store.reading() as conn:
        left = conn.execute(select(tables.schedule.c.task)).scalars().all()
    assert left == [f"reminder48:a-0001:{at}"]  # queued already; the 24-hour one was dropped
    with hub.SimulatedClock(start - timedelta(hours=23)):
        assert queue_due(office.hub, settings) == 0


def test_quiet_hours_hold_messages_until_morning(tmp_path, mail) -> None:
    night = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
    with LiveHub(notify_config(tmp_path, mail, quiet_hours="21:00-07:00")) as live:
        rid = submit(live, channels=["email"])
        settings = live.hub.registry.validated["plugins.notify"]
        with hub.SimulatedClock(night) as clock:
            live.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup")
            clock.set(night + timedelta(hours=4))
            assert queue_due(live.hub, settings) == 0  # still night
            clock.set(datetime(2026, 12, 8, 6, 5, tzinfo=UTC))  # 07:05 in Berlin
            assert queue_due(live.hub, settings) == 1
            assert told(live, rid, "notify:sent")  # sent while the clock says morning
    assert len(mail.received) == 1


def test_routed_to_it_a_record_gets_its_confirmation(tmp_path, mail) -> None:
    config = notify_config(tmp_path, mail)
    config.routes[0].adapters.append("notify")
    with LiveHub(config) as live:
        rid = submit(live, channels=["email"])
        assert told(live, rid, "notify:sent")
        assert wait_until(lambda: history(live, rid)[-1][0] == "delivered")
    assert mail.received[0]["Subject"] == "Ihr Antrag ist bei uns eingegangen: Reisepass"


@pytest.mark.parametrize(
    ("plugin", "words"),
    [
        ({"triggers": {"passport_office:received": "no_such_template"}}, "no template"),
        ({"quiet_hours": "late"}, "HH:MM-HH:MM"),
        ({"public_url": "not a url"}, "public_url"),
    ],
)
def test_bad_settings_refuse_the_start_naming_the_field(tmp_path, mail, plugin, words) -> None:
    with pytest.raises(hub.ConfigurationError, match=words):
        Hub(notify_config(tmp_path, mail, **plugin)).close()


def test_bad_choices_at_intake_name_the_field(office) -> None:
    data = sample_submission(notifications={"channels": ["sms"], "consent": True})
    twice = sample_submission(notifications={"channels": ["email", "email"], "consent": True})
    with office.client(TOKEN) as c:
        r = c.post("/v1/records", json=data)
        again = c.post("/v1/records", json=twice)
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("notifications")
    assert again.status_code == 422 and "once" in again.text


def test_installed_but_not_configured_it_sends_nothing(tmp_path, mail) -> None:
    from hub.testing import hub_config

    with LiveHub(hub_config(f"sqlite:///{tmp_path / 'h.db'}", tmp_path / "o", TOKEN)) as live:
        with live.client(TOKEN) as c:
            data = sample_submission(notifications={"channels": ["email"], "consent": True})
            data["applicant"]["email"] = "erika@example.org"
            rid = c.post("/v1/records", json=data).json()["id"]
            assert c.get("/v1/notify/letters").status_code == 404
        assert wait_until(lambda: ("delivered", None) in history(live, rid))
        live.hub.report_status(rid, "passport_office:ready_for_pickup", key="x")
        seen = [s for s, _ in history(live, rid)]
    assert "passport_office:ready_for_pickup" in seen
    assert not [s for s in seen if s.startswith("notify:") or s == "follow_up"]
    assert mail.received == []


def test_a_service_can_have_its_own_wording(tmp_path, mail) -> None:
    own = tmp_path / "templates"
    (own / "de" / PASS).mkdir(parents=True)
    (own / "de" / PASS / "ready_for_pickup.txt").write_text(
        "Ihr Reisepass liegt im Bürgerbüro bereit\n\n{{ greeting }},\n\nbitte holen Sie ihn "
        'innerhalb von drei Monaten ab.\n{% include "de/_footer.txt" %}\n',
        encoding="utf-8",
    )
    with (
        LiveHub(notify_config(tmp_path, mail, templates_dir=str(own))) as live,
        capture_logs() as logs,
    ):
        rid = submit(live, channels=["email"])
        live.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup")
        live.hub.report_status(rid, "passport_office:received", key="received")
        assert wait_until(lambda: len(mail.received) == 2)
        # the sender logs once the server said yes and the history has it
        assert wait_until(lambda: sum(e["event"] == "notification_sent" for e in logs) == 2)
    subjects = sorted(m["Subject"] for m in mail.received)
    assert subjects == ["Ihr Antrag ist in Bearbeitung: Reisepass",  # the bundled one
                        "Ihr Reisepass liegt im Bürgerbüro bereit"]  # fmt: skip
    body = next(m for m in mail.received if "liegt" in m["Subject"]).get_content()
    assert "drei Monaten" in body and "Bürgerbüro Düsseldorf" in body  # the footer as well
    logged = repr(logs)
    assert "erika@example.org" not in logged and "Mustermann" not in logged  # no person
    sent = sorted(e["message"] for e in logs if e["event"] == "notification_sent")
    assert sent == ["ready_for_pickup", "received_by_office"]


def test_a_moved_appointment_tells_the_new_time_and_moves_its_reminders(office, mail) -> None:
    rid = submit(office, channels=["email"])
    start = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0, second=0)
    later = start + timedelta(days=2, hours=1)

    def change(status: str, when: datetime) -> hub.AppointmentChange:
        return hub.AppointmentChange(
            "a-0002", status, "zms", "10", "051110000000", when, "online", (PASS,), rid,
            reason="Umbau im Bürgerbüro" if status == "moved" else None,
            place="Bürgerbüro Mitte, Marktplatz 1",
        )  # fmt: skip

    office.hub.appointment_changed(change("booked", start))
    office.hub.appointment_changed(change("moved", later))
    assert wait_until(lambda: len(mail.received) == 2)
    moved = next(m for m in mail.received if "verlegt" in m["Subject"])
    assert f"{later.astimezone(BERLIN):%d.%m.%Y}" in moved["Subject"]
    assert "Der Grund: Umbau im Bürgerbüro" in moved.get_body(("plain",)).get_content()
    [ics] = [p for p in moved.iter_attachments() if p.get_content_type() == "text/calendar"]
    event = Calendar.from_ical(ics.get_content()).walk("VEVENT")[0]
    assert event["DTSTART"].dt == later and str(event["UID"]) == "a-0002@hub"
    assert int(event["SEQUENCE"]) > 0  # calendars replace the entry they have
    with office.hub.store.reading() as conn:
        due = sorted(conn.execute(select(tables.schedule.c.due_at)).scalars())
    assert due == [later - timedelta(hours=48), later - timedelta(hours=24)]
