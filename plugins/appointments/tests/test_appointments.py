"""Booking through the hub against the ZMS citizen API double, over real HTTP."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, text

from hub.testing import LiveHub, wait_until
from hub_appointments import tables

AUSWEIS, PASS, ANMELDUNG = "99102013104000", "99102012104000", "99115005104000"


def client(live: LiveHub, token: str) -> httpx.Client:
    return live.client(token)


def first_slot(c: httpx.Client, office: str, *services: str) -> str:
    today = date.today()
    r = c.get(
        "/v1/appointments/slots",
        params={
            "office": office,
            "service": list(services),
            "from": today.isoformat(),
            "to": (today + timedelta(days=20)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["slots"], "the demo office has free slots"
    return r.json()["slots"][0]


def reserve(c: httpx.Client, office: str, start: str, *services: str, **extra: Any):
    return c.post(
        "/v1/appointments",
        json={
            "office": office,
            "services": [{"leika": s} for s in services],
            "start": start,
            **extra,
        },
    )


def rows(live: LiveHub) -> list[dict[str, Any]]:
    with live.hub.store.reading() as conn:
        return [dict(r._mapping) for r in conn.execute(select(tables.appointments))]


def test_offices_are_the_mapped_ones_with_ars_and_leika(booking, token) -> None:
    with client(booking, token) as c:
        items = c.get("/v1/appointments/offices").json()["items"]
        only = c.get("/v1/appointments/offices", params={"ars": "05316"}).json()["items"]
    by_id = {o["id"]: o for o in items}
    assert set(by_id) == {"10", "20", "30"}
    assert by_id["10"]["ars"] == "051110000000"
    assert {s["leika"] for s in by_id["10"]["services"]} == {AUSWEIS, PASS, ANMELDUNG}
    assert [s["leika"] for s in by_id["30"]["services"]] == [AUSWEIS]  # the koffer: ID only
    assert by_id["20"]["geo"] == {"lat": 51.2199, "lon": 6.7943}
    assert [o["id"] for o in only] == ["30"]


def test_reserve_then_confirm_books_and_keeps_no_contact_data(booking, token, zms) -> None:
    with client(booking, token) as c:
        start = first_slot(c, "10", AUSWEIS)
        r = reserve(c, "10", start, AUSWEIS)
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["status"] == "reserved" and made["reserved_until"]
        assert "auth_key" not in made and r.headers["location"].endswith(made["id"])
        done = c.post(
            f"/v1/appointments/{made['id']}/confirm",
            json={"family_name": "Mustermann", "email": "erika@example.org"},
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "confirmed" and len(done.json()["cancel_token"]) >= 24
        shown = c.get(f"/v1/appointments/{made['id']}").json()
    assert shown["status"] == "confirmed" and "cancel_token" not in shown
    assert datetime.fromisoformat(shown["start"]) == datetime.fromisoformat(start)
    [process] = zms.processes.values()
    assert process.status == "confirmed" and process.family_name == "Mustermann"
    assert [m["kind"] for m in zms.mails] == ["activation", "confirmation"]
    [row] = rows(booking)
    assert "Mustermann" not in str(row) and "erika@" not in str(row)  # the booking system has it
    assert row["channel"] == "online" and row["booked_by"] == "portal"


def test_two_citizens_reserving_the_last_slot_one_wins(booking, token, zms) -> None:
    """The pop-up has one desk: two reserves of the same time at once give one reservation."""
    with client(booking, token) as c:
        start = first_slot(c, "20", AUSWEIS)
    answers: list[int] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        with client(booking, token) as c:
            barrier.wait()
            answers.append(reserve(c, "20", start, AUSWEIS).status_code)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 409]
    assert len(rows(booking)) == 1 and len(zms.processes) == 1
    with client(booking, token) as c:
        again = reserve(c, "20", start, AUSWEIS)
    assert again.status_code == 409
    assert again.json()["errors"][0]["rule"] == "appointmentNotAvailable"


def test_an_unconfirmed_reservation_lapses_and_the_slot_is_free_again(
    booking_with, token, zms, clock
) -> None:
    import time

    with booking_with(reservation_minutes=0.01) as live, client(live, token) as c:
        start = first_slot(c, "20", AUSWEIS)
        made = reserve(c, "20", start, AUSWEIS).json()
        time.sleep(0.8)
        late = c.post(
            f"/v1/appointments/{made['id']}/confirm",
            json={"family_name": "Mustermann", "email": "erika@example.org"},
        )
        assert late.status_code == 409 and late.json()["errors"][0]["rule"] == "expired"
        assert c.get(f"/v1/appointments/{made['id']}").json()["status"] == "expired"
        assert next(iter(zms.processes.values())).status == "cancelled"  # given back
        assert zms.mails == []  # a reservation's cancellation sends no mail
        assert first_slot(c, "20", AUSWEIS) != start  # locked a while against slot trading
        clock.offset += 6 * 60
        assert first_slot(c, "20", AUSWEIS) == start  # then free again


def test_the_booking_systems_own_timeout_is_respected(booking, token, zms, clock) -> None:
    """ZMS lets a reservation lapse after its reservationDuration; confirming then fails
    cleanly and nothing is booked."""
    with client(booking, token) as c:
        start = first_slot(c, "10", AUSWEIS)
        made = reserve(c, "10", start, AUSWEIS).json()
        clock.offset += 16 * 60  # past the simulator's 15 minutes (the hub's clock stands)
        r = c.post(
            f"/v1/appointments/{made['id']}/confirm",
            json={"family_name": "Mustermann", "email": "erika@example.org"},
        )
    assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "appointmentNotFound"
    assert rows(booking)[0]["status"] == "reserved"  # unchanged; the hub's expiry takes it


def test_cancellation_link_works_until_the_start(booking, token, zms) -> None:
    with client(booking, token) as c:
        start = first_slot(c, "10", PASS)
        made = reserve(c, "10", start, PASS).json()
        done = c.post(
            f"/v1/appointments/{made['id']}/confirm",
            json={"family_name": "Mustermann", "telephone": "+49 211 123456"},
        ).json()
    link = f"{booking.url}/v1/appointments/{made['id']}/cancel"
    wrong = httpx.post(link, json={"token": "not-the-token-at-all"})
    assert wrong.status_code == 403 and wrong.json()["errors"][0]["field"] == "token"
    # Moved into the past (as if the time had come): the link no longer cancels.
    with booking.hub.store.transaction() as conn:
        conn.execute(
            text("UPDATE appointments SET start_at = :t WHERE id = :i"),
            {"t": datetime.now(UTC) - timedelta(minutes=1), "i": made["id"]},
        )
    late = httpx.post(link, json={"token": done["cancel_token"]})
    assert late.status_code == 409 and late.json()["errors"][0]["rule"] == "started"
    with booking.hub.store.transaction() as conn:
        conn.execute(
            text("UPDATE appointments SET start_at = :t WHERE id = :i"),
            {"t": datetime.fromisoformat(start), "i": made["id"]},
        )
    ok = httpx.post(link, json={"token": done["cancel_token"]})
    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"
    assert next(iter(zms.processes.values())).status == "cancelled"
    assert httpx.post(link, json={"token": done["cancel_token"]}).status_code == 403  # used up


def test_the_sweeper_gives_lapsed_reservations_back(booking_with, token, zms) -> None:
    import time

    from hub_appointments.plugin import STATE, ExpirySweeper

    with booking_with(reservation_minutes=0.01) as live, client(live, token) as c:
        made = reserve(c, "10", first_slot(c, "10", AUSWEIS), AUSWEIS).json()
        time.sleep(0.8)
        sweeper = ExpirySweeper(live.hub, interval=0.05)  # what hub serve runs every 30 s
        sweeper.start()
        try:
            assert wait_until(lambda: STATE(live.hub).get(made["id"])["status"] == "expired")
        finally:
            sweeper.stop()
        assert STATE(live.hub).expire_due() == 0  # once
    assert next(iter(zms.processes.values())).status == "cancelled"
