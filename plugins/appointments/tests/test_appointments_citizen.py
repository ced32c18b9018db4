"""What the citizen and the counter see besides booking: "my appointments" with a login,
the appointment for the calendar, and walk-ins recorded like appointments."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar
from sqlalchemy import select
from test_appointments_errors import slots

import hub
from hub.testing import PluginManager, sample_submission
from hub_appointments import tables

AUSWEIS, PASS = "99102013104000", "99102012104000"


PEOPLE = {"erika": "bPK2-erika-0000000001", "max": "bPK2-max-00000000000002"}


class Sessions:
    """A stand-in identity provider (BundID in production): a header names the citizen."""

    def identify(self, request):
        who = PEOPLE.get(request.headers.get("x-test-session", ""))
        if who is None:
            return None
        return hub.IdentityClaim(hub.Identity(method="bundid", trust_level="hoch", bpk2=who))


class SessionPlugin:
    @hub.hookimpl
    def register_identity_providers(self, register, hub):
        register("test_session", Sessions())


def test_a_logged_in_citizen_sees_their_own_appointments_only(booking_with, token) -> None:
    pm = PluginManager()
    pm.register(SessionPlugin(), name="test_session")
    erika, max_ = {"x-test-session": "erika"}, {"x-test-session": "max"}
    with booking_with(pm) as live, live.client(token) as c:

        def book(headers, office="10", leika=AUSWEIS):
            made = c.post(
                "/v1/appointments",
                headers=headers,
                json={
                    "office": office,
                    "services": [{"leika": leika}],
                    "start": slots(c, office, leika)[-1 if leika == PASS else 0],
                },
            ).json()
            c.post(
                f"/v1/appointments/{made['id']}/confirm",
                json={"family_name": "Mustermann", "email": "m@example.org"},
            )
            return made["id"]

        later = book(erika, "20", PASS)
        sooner = book(erika)
        book(max_)
        anonymous = book({})
        hers = c.get("/v1/appointments/mine", headers=erika)
        nobody = c.get("/v1/appointments/mine")
        with live.hub.store.reading() as conn:
            kept = conn.execute(select(tables.appointments.c.citizen_sha256)).scalars().all()
    assert hers.status_code == 200
    assert [a["id"] for a in hers.json()["items"]] == [sooner, later]  # the coming one first
    assert anonymous not in {a["id"] for a in hers.json()["items"]}
    assert nobody.status_code == 401
    assert nobody.headers["content-type"] == "application/problem+json"
    # the hub keeps a digest of the login's key, never the key
    assert not any(k and "bPK2" in k for k in kept) and len({k for k in kept if k}) == 2


def test_the_appointment_for_the_calendar(booking, token, zms) -> None:
    with booking.client(token) as c:
        start = slots(c, "10", AUSWEIS)[0]
        made = c.post(
            "/v1/appointments",
            json={"office": "10", "services": [{"leika": AUSWEIS, "count": 2}], "start": start},
        ).json()
        done = c.post(
            f"/v1/appointments/{made['id']}/confirm",
            json={"family_name": "Mustermann", "email": "m@example.org"},
        ).json()
        r = c.get(done["calendar_url"])
        office = next(
            o for o in c.get("/v1/appointments/offices").json()["items"] if o["id"] == "10"
        )
        c.delete(f"/v1/appointments/{made['id']}")
        gone = c.get(done["calendar_url"])
        unknown = c.get("/v1/appointments/nope/calendar.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    event = Calendar.from_ical(r.content).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == datetime.fromisoformat(start)
    assert str(event["SUMMARY"]).startswith("Termin: 2 × ")
    assert office["name"] in str(event["LOCATION"])
    assert event["STATUS"] == "CONFIRMED"
    assert b"Mustermann" not in r.content and b"example.org" not in r.content
    assert Calendar.from_ical(gone.content).walk("VEVENT")[0]["STATUS"] == "CANCELLED"
    assert unknown.status_code == 404


def test_a_walk_in_is_recorded_and_its_record_learns_it(booking, token, zms) -> None:
    with booking.client(token) as c:
        rid = c.post("/v1/records", json=sample_submission()).json()["id"]
        before = len(zms.processes)
        r = c.post(
            "/v1/appointments/walk-ins",
            json={"office": "10", "services": [{"leika": AUSWEIS}], "record_id": rid},
        )
        bad = c.post(
            "/v1/appointments/walk-ins", json={"office": "30", "services": [{"leika": PASS}]}
        )
        history = [h["status"] for h in c.get(f"/v1/records/{rid}").json()["history"]]
        ics = c.get(f"/v1/appointments/{r.json()['id']}/calendar.ics")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "walk_in" and r.json()["channel"] == "walk_in"
    assert "appointment:walk_in" in history
    assert bad.status_code == 422 and bad.json()["errors"][0]["rule"] == "not_offered_here"
    assert ics.status_code == 409
    assert len(zms.processes) == before  # the booking system never heard of it


def test_every_change_is_told_to_the_plugins_without_contact_data(booking_with, token) -> None:
    heard: list[hub.AppointmentChange] = []

    class Listener:
        @hub.hookimpl
        def appointment_changed(self, hub, change):
            heard.append(change)

    pm = PluginManager()
    pm.register(Listener(), name="listener")
    with booking_with(pm) as live, live.client(token) as c:
        one = c.post(
            "/v1/appointments",
            json={"office": "10", "services": [{"leika": PASS}], "start": slots(c, "10", PASS)[0]},
        ).json()
        done = c.post(
            f"/v1/appointments/{one['id']}/confirm",
            json={"family_name": "Mustermann", "email": "erika@example.org"},
        )
        assert done.status_code == 200, done.text
        assert c.delete(f"/v1/appointments/{one['id']}").status_code == 200
        walk = c.post(
            "/v1/appointments/walk-ins", json={"office": "10", "services": [{"leika": AUSWEIS}]}
        ).json()
        rid = c.post("/v1/records", json=sample_submission()).json()["id"]
        assert c.put(f"/v1/appointments/{walk['id']}/record", json={"record_id": rid}).is_success
    told = [(ch.appointment_id, ch.status, ch.channel) for ch in heard]
    assert told[:2] == [(one["id"], "booked", "online"), (one["id"], "cancelled", "online")]
    assert (walk["id"], "walk_in", "walk_in") in told
    assert told.count((walk["id"], "walk_in", "walk_in")) == 1  # linking a record tells only it
    first = heard[0]
    assert first.system == "zms" and first.office == "10" and first.ars == "051110000000"
    assert first.leika == (PASS,) and first.record_id is None
    assert "Mustermann" not in repr(heard) and "example.org" not in repr(heard)
