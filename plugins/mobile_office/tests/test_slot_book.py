"""The slot book of Einsätze, booked through the appointments API over real HTTP: capacity,
the last desk under concurrency, home-visit eligibility and batching by part of town, the
district preference (the Moers lesson), lapsed reservations, and calling an Einsatz off."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar

import hub
from hub.testing import sample_submission
from hub_mobile_office.plugin import STATE

BERLIN = ZoneInfo("Europe/Berlin")
AUSWEIS, PASS = "99102013104000", "99102012104000"


def ahead(days: int) -> date:
    return datetime.now(BERLIN).date() + timedelta(days=days)


def popup(**booking: Any) -> dict[str, Any]:
    """A pop-up in ten days, 9–10 h: three slots of 20 minutes at one desk."""
    return {
        "kind": "popup",
        "name": "Pop-up-Bürgerbüro in der Zentralbibliothek",
        "place": {
            "name": "Zentralbibliothek",
            "partner": "Stadtbüchereien",
            "address": "Konrad-Adenauer-Platz 1, 40210 Düsseldorf",
            "lat": 51.2199,
            "lon": 6.7945,
            "ars": "051110000000",
            "district": "Stadtmitte",
        },
        "start": ahead(10).isoformat(),
        "hours": {"start": "09:00", "end": "10:00"},
        "capabilities": ["camera", "fingerprint", "signature_pad"],
        "services": [AUSWEIS, PASS],
        "booking": {"slot_minutes": 20, **booking},
    }


def home_visits(start: date, districts: list[str]) -> dict[str, Any]:
    return {
        "kind": "home_visit",
        "name": "Hausbesuche " + "/".join(districts),
        "place": {
            "name": "Mobiler Bürgerservice",
            "address": "Rathausplatz 1, 47441 Moers",
            "lat": 51.4508,
            "lon": 6.6262,
            "ars": "051700024024",
        },
        "start": start.isoformat(),
        "hours": {"start": "09:00", "end": "15:00"},
        "capabilities": ["camera", "fingerprint", "signature_pad"],
        "services": [AUSWEIS],
        "booking": {
            "slot_minutes": 60,
            "per_day": 2,
            "districts": districts,
            "district_rule": "only",
        },
    }


def plan(c: httpx.Client, einsatz: dict[str, Any]) -> str:
    r = c.post("/v1/mobile-office/einsaetze", json=einsatz)
    assert r.status_code == 201, r.text
    return f"mobile_office:{r.json()['id']}"


def slots(c: httpx.Client, office: str, *services: str, **answers: str) -> list[str]:
    r = free(c, office, *services, **answers)
    assert r.status_code == 200, r.text
    return r.json()["slots"]


def free(c: httpx.Client, office: str, *services: str, **answers: str) -> httpx.Response:
    return c.get(
        "/v1/appointments/slots",
        params={
            "office": office,
            "service": list(services) or [AUSWEIS],
            "from": ahead(0).isoformat(),
            "to": ahead(40).isoformat(),
            "answer": [f"{k}:{v}" for k, v in answers.items()],
        },
    )


def book(
    c: httpx.Client, office: str, start: str, *services: str, answers: Any = None, **extra: Any
) -> httpx.Response:
    r = c.post(
        "/v1/appointments",
        json={
            "office": office,
            "services": [{"leika": s} for s in services or (AUSWEIS,)],
            "start": start,
            "answers": answers or {},
            **extra,
        },
    )
    if r.status_code != 201:
        return r
    return c.post(
        f"/v1/appointments/{r.json()['id']}/confirm",
        json={"family_name": "Mustermann", "telephone": "+49 211 000000"},
    )


def test_an_einsatz_with_booking_rules_is_an_office_with_its_slots(slot_office, token) -> None:
    with slot_office.client(token) as c:
        office = plan(c, popup())
        plan(c, {**popup(), "name": "Nur mit Laufkundschaft", "booking": None})
        offices = c.get("/v1/appointments/offices").json()["items"]
        found = slots(c, office)
    assert [o["id"] for o in offices] == [office]  # walk-in-only Einsätze are not offices
    listed = offices[0]
    assert listed["system"] == "mobile_office" and listed["ars"] == "051110000000"
    assert {s["leika"] for s in listed["services"]} == {AUSWEIS, PASS}
    assert listed["fields"] == [] and "09:00–10:00" in listed["info"]
    day = ahead(10)
    assert [datetime.fromisoformat(s) for s in found] == [
        datetime(day.year, day.month, day.day, 9, m, tzinfo=BERLIN) for m in (0, 20, 40)
    ]


def test_capacity_holds_and_two_services_take_two_slots(slot_office, token) -> None:
    with slot_office.client(token) as c:
        office = plan(c, popup())
        first, second, third = slots(c, office)
        assert slots(c, office, AUSWEIS, PASS) == [first, second]  # two consecutive slots
        assert book(c, office, second, AUSWEIS, PASS).status_code == 200
        assert slots(c, office) == [first]
        full = book(c, office, third)
        again = book(c, office, first)
        past_capacity = book(c, office, first)
        off_grid = book(c, office, first.replace(":00:00", ":05:00"))
    assert full.status_code == 409 and full.json()["errors"][0]["rule"] == "capacity"
    assert again.status_code == 200
    assert past_capacity.status_code == 409
    assert past_capacity.json()["errors"][0] == {
        "field": "start",
        "rule": "capacity",
        "message": "the slot is fully booked (past capacity)",
    }
    assert off_grid.status_code == 422 and off_grid.json()["errors"][0]["rule"] == "slotNotOffered"
    bookings = STATE(slot_office.hub).slots.bookings(office.split(":")[1])
    assert [b["status"] for b in bookings] == ["confirmed", "confirmed"]


def test_two_citizens_reserving_the_last_desk_one_wins(slot_office, token) -> None:
    with slot_office.client(token) as c:
        office = plan(c, popup(desks=2))
        start = slots(c, office)[0]
        assert book(c, office, start).status_code == 200  # one desk left
    results: list[int] = []
    barrier = threading.Barrier(2)

    def race() -> None:
        with slot_office.client(token) as mine:
            barrier.wait()
            results.append(
                mine.post(
                    "/v1/appointments",
                    json={"office": office, "services": [{"leika": AUSWEIS}], "start": start},
                ).status_code
            )

    threads = [threading.Thread(target=race) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == [201, 409]
    held = STATE(slot_office.hub).slots.bookings(office.split(":")[1])
    assert len(held) == 1  # the reservation is not confirmed: the office list shows one


def test_home_visits_need_a_declared_reason_and_are_batched_by_part_of_town(
    slot_office, token
) -> None:
    with slot_office.client(token) as c:
        north = plan(c, home_visits(ahead(5), ["Repelen", "Kapellen"]))
        south = plan(c, home_visits(ahead(6), ["Meerbeck", "Scherpenberg"]))
        office = next(
            o for o in c.get("/v1/appointments/offices").json()["items"] if o["id"] == north
        )
        no_reason = free(c, north, district="Repelen")
        bad_reason = free(c, north, reason="bored", district="Repelen")
        other_part = free(c, north, reason="care_home_resident", district="Meerbeck")
        mine = slots(c, north, reason="mobility_restricted", district="repelen")
        theirs = slots(c, south, reason="mobility_restricted", district="Meerbeck")
        first = book(
            c, north, mine[0], answers={"reason": "care_home_resident", "district": "Kapellen"}
        )
        second = book(
            c, north, mine[1], answers={"reason": "mobility_restricted", "district": "Repelen"}
        )
        third = book(
            c, north, mine[2], answers={"reason": "mobility_restricted", "district": "Repelen"}
        )
        after = slots(c, north, reason="mobility_restricted", district="Repelen")
    assert [f["name"] for f in office["fields"]] == ["reason", "district"]
    assert office["fields"][0]["choices"] == ["mobility_restricted", "care_home_resident"]
    assert (no_reason.status_code, no_reason.json()["errors"][0]["field"]) == (
        422,
        "answers.reason",
    )
    assert no_reason.json()["errors"][0]["rule"] == "required"
    assert bad_reason.json()["errors"][0]["rule"] == "choice"
    assert other_part.status_code == 422
    assert other_part.json()["errors"][0] == {
        "field": "answers.district",
        "rule": "other_district",
        "message": "this Einsatz is for the districts Repelen, Kapellen",
    }
    assert len(mine) == 6 and {s[:10] for s in mine} == {ahead(5).isoformat()}
    assert {s[:10] for s in theirs} == {ahead(6).isoformat()}
    assert first.status_code == 200 and second.status_code == 200
    assert third.status_code == 409 and third.json()["errors"][0]["rule"] == "dayFull"
    assert after == []  # two home visits a day, and the day is full
    kept = STATE(slot_office.hub).slots.bookings(north.split(":")[1])
    assert [(b["reason"], b["district"]) for b in kept] == [
        ("care_home_resident", "Kapellen"),
        ("mobility_restricted", "Repelen"),
    ]


def test_a_districts_days_are_its_own_until_the_last_week(slot_office, token) -> None:
    """The Moers lesson: a Bürgermobil day for Repelen is not extra capacity for the whole
    town. Others see it only in its last seven days."""
    bus = popup(districts=["Repelen"], district_rule="prefer", open_to_all_days_before=7)
    bus.update(
        kind="buergermobil", start=ahead(3).isoformat(), rrule="FREQ=DAILY;INTERVAL=17;COUNT=2"
    )
    with slot_office.client(token) as c:
        office = plan(c, bus)
        fields = c.get("/v1/appointments/offices").json()["items"][0]["fields"]
        locals_ = slots(c, office, district="Repelen")
        others = slots(c, office, district="Meerbeck")
        anyone = slots(c, office)
        too_early = book(c, office, locals_[-1], answers={"district": "Meerbeck"})
        own = book(c, office, locals_[-1], answers={"district": "Repelen"})
    assert fields == [
        {"name": "district", "label": "Ihr Stadtteil", "choices": [], "required": False}
    ]
    assert {s[:10] for s in locals_} == {ahead(3).isoformat(), ahead(20).isoformat()}
    assert {s[:10] for s in others} == {ahead(3).isoformat()} and anyone == others
    assert too_early.status_code == 422
    assert too_early.json()["errors"][0]["rule"] == "district_first"
    assert own.status_code == 200


def test_a_reservation_lapses_in_the_slot_book_and_the_slot_is_free_again(
    slot_office, token
) -> None:
    book_ = STATE(slot_office.hub).slots
    with slot_office.client(token) as c:
        office = plan(c, popup())
        start = slots(c, office)[0]
        made = c.post(
            "/v1/appointments",
            json={"office": office, "services": [{"leika": AUSWEIS}], "start": start},
        ).json()
        assert start not in slots(c, office)
        real = book_.clock
        book_.clock = lambda: real() + timedelta(minutes=21)
        try:
            assert start in slots(c, office)
            late = c.post(
                f"/v1/appointments/{made['id']}/confirm",
                json={"family_name": "Spät", "email": "spaet@example.org"},
            )
        finally:
            book_.clock = real
    assert late.status_code == 409
    assert late.json()["errors"][0]["rule"] == "reservationExpired"


def test_calling_an_einsatz_off_cancels_its_bookings_and_tells_their_records(
    slot_office, token
) -> None:
    with slot_office.client(token) as c:
        office = plan(c, popup())
        einsatz = office.split(":")[1]
        rid = c.post("/v1/records", json=sample_submission()).json()["id"]
        made = book(c, office, slots(c, office)[0], record_id=rid).json()
        ics_before = c.get(f"/v1/appointments/{made['id']}/calendar.ics")
        r = c.post(
            f"/v1/mobile-office/einsaetze/{einsatz}/cancel", json={"reason": "Wasserschaden"}
        )
        after = c.get(f"/v1/appointments/{made['id']}").json()
        calls = c.get(f"/v1/mobile-office/einsaetze/{einsatz}/bookings").json()["items"]
        history = [h["status"] for h in c.get(f"/v1/records/{rid}").json()["history"]]
        ics_after = c.get(f"/v1/appointments/{made['id']}/calendar.ics")
        offices = c.get("/v1/appointments/offices").json()["items"]
    assert r.status_code == 200 and r.json()["bookings_cancelled"] == 1
    assert after["status"] == "cancelled"
    assert after["cancel_reason"] == "Einsatz abgesagt: Wasserschaden"
    assert "appointment:booked" in history and "appointment:cancelled" in history
    assert calls[0]["cancelled_by"] == "office"
    assert calls[0]["contact"] == {
        "family_name": "Mustermann",
        "email": None,
        "telephone": "+49 211 000000",
    }
    assert offices == []
    event = Calendar.from_ical(ics_before.content).walk("VEVENT")[0]
    assert ics_before.headers["content-type"].startswith("text/calendar")
    assert event["STATUS"] == "CONFIRMED" and "Zentralbibliothek" in str(event["LOCATION"])
    assert event.decoded("DTSTART") == datetime.fromisoformat(made["start"])
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=20)
    cancelled = Calendar.from_ical(ics_after.content).walk("VEVENT")[0]
    assert cancelled["STATUS"] == "CANCELLED" and cancelled["UID"] == event["UID"]


def test_a_change_that_would_drop_confirmed_bookings_is_refused(slot_office, token) -> None:
    with slot_office.client(token) as c:
        office = plan(c, popup())
        einsatz = office.split(":")[1]
        book(c, office, slots(c, office)[0])
        later = {**popup(), "hours": {"start": "10:00", "end": "12:00"}}
        refused = c.put(f"/v1/mobile-office/einsaetze/{einsatz}", json=later)
        longer = {**popup(), "hours": {"start": "09:00", "end": "12:00"}}
        kept = c.put(f"/v1/mobile-office/einsaetze/{einsatz}", json=longer)
        now_free = slots(c, office)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["rule"] == "bookings_affected"
    assert kept.status_code == 200 and len(now_free) == 9 - 1


def test_the_contact_data_goes_once_the_day_is_over(slot_office, token) -> None:
    book_ = STATE(slot_office.hub).slots
    with slot_office.client(token) as c:
        office = plan(c, popup())
        book(c, office, slots(c, office)[0])
    assert book_.purge() == (0, 0)  # the day is still to come
    real = book_.clock
    book_.clock = lambda: real() + timedelta(days=11)
    try:
        assert book_.purge() == (1, 0)
    finally:
        book_.clock = real
    kept = book_.bookings(office.split(":")[1])
    assert kept[0]["contact"] is None and kept[0]["status"] == "confirmed"


def test_the_service_center_books_a_home_visit_and_calls_it_off_on_the_command_line(
    slot_office, token
) -> None:
    """A caller who cannot come: the clerk finds a day for their part of town, books it with
    the declared reason, and — when the visits are called off — has the call list."""
    from click.testing import CliRunner

    from hub.testing import CliState, PluginManager, build_cli

    with slot_office.client(token) as c:
        office = plan(c, home_visits(ahead(5), ["Repelen", "Kapellen"]))
    einsatz = office.split(":")[1]
    pm = PluginManager()
    config = Path(slot_office.hub.config.attachments.directory).parent / "cli.toml"
    config.write_text(
        f'[store]\nurl = "{slot_office.hub.config.store.url}"\n'
        f'[attachments]\ndirectory = "{slot_office.hub.config.attachments.directory}"\n'
        "[plugins.appointments]\n"
    )

    def run(*args: str):
        return CliRunner().invoke(
            build_cli(pm), ["--config", str(config), *args], obj=CliState(None, pm)
        )

    answers = ["--answer", "reason=mobility_restricted", "--answer", "district=Kapellen"]
    found = run("appointments", "slots", office, AUSWEIS, *answers)
    assert found.exit_code == 0, found.output
    first = found.output.strip().splitlines()[0]
    refused = run("appointments", "slots", office, AUSWEIS, "--answer", "district=Kapellen")
    assert refused.exit_code != 0 and "answers.reason" in refused.output
    booked = run(
        "appointments", "book", office, first, AUSWEIS, "--family-name", "Beispiel",
        "--telephone", "+49 2841 0000", *answers,
    )  # fmt: skip
    assert booked.exit_code == 0, booked.output
    appointment_id = booked.output.strip().splitlines()[-1].split()[0]  # logs come first
    called_off = run("mobile-office", "cancel", einsatz, "--reason", "Krankheit im Team")
    assert called_off.exit_code == 0, called_off.output
    assert "1 booking(s)" in called_off.output
    calls = run("mobile-office", "bookings", einsatz)
    assert (
        "cancelled" in calls.output
        and "Beispiel" in calls.output
        and "+49 2841 0000" in calls.output
    )
    with slot_office.client(token) as c:
        shown = c.get(f"/v1/appointments/{appointment_id}").json()
    assert shown["status"] == "cancelled" and shown["channel"] == "classic"
    assert shown["cancel_reason"] == "Einsatz abgesagt: Krankheit im Team"


def test_a_cancellation_a_crash_left_unannounced_is_told_on_the_next_round(
    slot_office, token
) -> None:
    """The Einsatz's cancellation and its bookings' commit together with a mark; if the
    process dies before the appointments plugin is told, the purge service's next round tells
    it (the mark is cleared only once told)."""
    from hub_mobile_office import tables
    from hub_mobile_office.slotbook import SlotBook

    planner = STATE(slot_office.hub)
    with slot_office.client(token) as c:
        office = plan(c, popup())
        made = book(c, office, slots(c, office)[0]).json()
    einsatz = office.split(":")[1]
    with slot_office.hub.store.transaction() as conn:  # the commit, then "kill -9"
        conn.execute(
            tables.einsaetze.update()
            .where(tables.einsaetze.c.id == einsatz)
            .values(status="cancelled", cancel_reason="Sturm")
        )
        assert SlotBook.cancel_einsatz(conn, einsatz, "Einsatz abgesagt: Sturm")
    with slot_office.client(token) as c:
        assert c.get(f"/v1/appointments/{made['id']}").json()["status"] == "confirmed"
        assert planner.announce() == 1  # what the purge service does at start and hourly
        after = c.get(f"/v1/appointments/{made['id']}").json()
        assert planner.announce() == 0  # told once
    assert after["status"] == "cancelled" and after["cancel_reason"] == "Einsatz abgesagt: Sturm"


def test_plans_are_told_with_the_slots_each_day_offers(tmp_path: Path, token) -> None:
    from hub.testing import LiveHub, PluginManager, hub_config

    heard: list[Any] = []

    class Listener:
        @hub.hookimpl
        def einsatz_planned(self, hub, plan):
            heard.append(plan)

    pm = PluginManager()
    pm.register(Listener(), name="listener")
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        token,
        plugins={"ozg_catalog": {"pvog_enabled": False}, "mobile_office": {}},
    )
    weekly = {**popup(desks=2), "rrule": "FREQ=WEEKLY;COUNT=3"}  # 3 days, 3 slots × 2 desks
    walk_in_only = {k: v for k, v in popup().items() if k != "booking"}
    with LiveHub(config, pm) as live, live.client(token) as c:
        one = c.post("/v1/mobile-office/einsaetze", json=weekly).json()["id"]
        changed = {**weekly, "booking": {"slot_minutes": 20, "desks": 2, "per_day": 4}}
        assert c.put(f"/v1/mobile-office/einsaetze/{one}", json=changed).status_code == 200
        two = c.post("/v1/mobile-office/einsaetze", json=walk_in_only).json()["id"]
        assert c.post(
            f"/v1/mobile-office/einsaetze/{one}/cancel", json={"reason": "Umbau"}
        ).is_success
    first, second, third, gone = heard
    days = [ahead(10) + timedelta(weeks=n) for n in range(3)]
    assert first.einsatz_id == one and first.status == "planned"
    assert dict(first.slots) == dict.fromkeys(days, 6)
    assert dict(second.slots) == dict.fromkeys(days, 4)  # capped by per_day
    assert third.einsatz_id == two and dict(third.slots) == {ahead(10): 0}
    assert third.system is None and first.system == "mobile_office"
    assert (first.place, first.ars, first.lat) == ("Zentralbibliothek", "051110000000", 51.2199)
    assert gone.status == "cancelled" and dict(gone.slots) == {}  # no day was held yet
    assert "Frau" not in repr(heard)
