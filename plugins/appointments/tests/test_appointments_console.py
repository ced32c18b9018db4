"""The appointments pages of the staff console in a real browser (Playwright on Debian's
Chromium, axe-core on every page): the ServiceCenter books an appointment for a caller, moves
it and cancels it; the team on site marks who came and records a walk-in. Scoped like an API
client, audited, CSRF-checked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, text

from hub.testing import (
    LiveHub,
    add_staff,
    assert_accessible,
    console_sign_in,
    sample_submission,
)
from hub_appointments import tables

PASSWORD = "ServiceCenter am Telefon"
AUSWEIS = "99102013104000"


@pytest.fixture
def page(console_page: Page) -> Page:
    return console_page


@pytest.fixture
def center(booking: LiveHub) -> LiveHub:
    add_staff(booking, "sc", PASSWORD, roles=["service_center"], municipalities=["05111*"])
    add_staff(booking, "lev", PASSWORD, roles=["mobile_office"], municipalities=["05316*"])
    add_staff(booking, "auswertung", PASSWORD, roles=["reporting"], municipalities=["*"])
    return booking


def rows(live: LiveHub) -> list[dict]:
    with live.hub.store.reading() as conn:
        return [dict(r._mapping) for r in conn.execute(select(tables.appointments)).all()]


def test_the_service_center_books_moves_and_cancels_for_a_caller(center, page, zms) -> None:
    console_sign_in(page, center.url, "sc", PASSWORD)
    page.get_by_role("link", name="Termine").click()
    offices = page.get_by_label("Ort").locator("option").all_text_contents()
    assert offices and all("05111" in o for o in offices)  # not Leverkusen's office 30
    page.get_by_label("Ort").select_option("10")
    page.get_by_label("Leistung").select_option(AUSWEIS)
    page.get_by_role("button", name="Termine suchen").click()
    assert_accessible(page, "appointments/01-free-times")
    first = page.get_by_role("radio").first
    expect(first).to_be_checked()
    page.get_by_label("Nachname").fill("Beispiel")
    page.get_by_label("Telefon").fill("+49 211 899 0")
    page.get_by_role("button", name="Termin buchen").click()
    expect(page.get_by_role("status")).to_have_text("Gebucht.")
    expect(page.locator(".facts")).to_contain_text("confirmed")
    assert_accessible(page, "appointments/02-booked")
    booked_id = re.search(r"/console/appointments/([0-9a-f-]{36})", page.url).group(1)

    page.get_by_role("link", name="Termin verlegen").click()
    page.get_by_role("button", name="Termine suchen").click()
    page.get_by_role("radio").nth(2).check()
    page.get_by_label("Nachname").fill("Beispiel")
    page.get_by_label("Telefon").fill("+49 211 899 0")
    page.get_by_role("button", name="Termin buchen").click()
    expect(page.get_by_role("status")).to_have_text("Verlegt; der alte Termin ist abgesagt.")
    moved_id = re.search(r"/console/appointments/([0-9a-f-]{36})", page.url).group(1)
    page.get_by_role("button", name="Termin absagen").click()
    expect(page.get_by_role("status")).to_have_text("Abgesagt.")

    found = {r["id"]: r for r in rows(center)}
    assert found[booked_id]["status"] == "cancelled" and found[moved_id]["status"] == "cancelled"
    assert {r["channel"] for r in found.values()} == {"classic"}
    assert found[moved_id]["booked_by"] == "staff.sc"
    assert all("Beispiel" not in str(r) for r in found.values())  # the hub keeps no contact
    assert any(p.family_name == "Beispiel" for p in zms.processes.values())  # ZMS has it
    with center.hub.store.reading() as conn:
        trail = conn.execute(
            text("SELECT username, action, target FROM staff_audit ORDER BY id")
        ).all()
    actions = [(u, a, t) for u, a, t in trail if a.startswith("appointment.")]
    assert actions == [
        ("sc", "appointment.book", booked_id),
        ("sc", "appointment.move", moved_id),
        ("sc", "appointment.cancel", moved_id),
    ]


def test_the_day_board_marks_who_came_and_records_walk_ins(center, page, zms) -> None:
    with center.client("appointments-test-token-01") as c:
        today = datetime.now(UTC).date()
        slots = c.get(
            "/v1/appointments/slots",
            params={"office": "30", "service": AUSWEIS, "from": today.isoformat(),
                    "to": (today + timedelta(days=20)).isoformat()},
        ).json()["slots"]  # fmt: skip
        made = [
            c.post("/v1/appointments", json={"office": "30", "services": [{"leika": AUSWEIS}],
                                             "start": start}).json()
            for start in (slots[0], slots[-1])  # a service can take several slots
        ]  # fmt: skip
        assert all("id" in m for m in made), made
        case = c.post(
            "/v1/records",
            json=sample_submission(channel="popup", municipality={"ars": "053160000000"}),
        ).json()["id"]
        for m in made:
            c.post(f"/v1/appointments/{m['id']}/confirm",
                   json={"family_name": "Muster", "email": "m@example.org"})  # fmt: skip
    earlier = datetime.now(UTC) - timedelta(minutes=3)
    with center.hub.store.transaction() as conn:  # as if the day had come
        for i, m in enumerate(made):
            conn.execute(
                text("UPDATE appointments SET start_at = :t WHERE id = :i"),
                {"t": earlier + timedelta(minutes=i), "i": m["id"]},
            )
    console_sign_in(page, center.url, "lev", PASSWORD)
    page.get_by_role("link", name="Tagesübersicht").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text("Bürgerkoffer")
    cases = page.get_by_role("table", name=re.compile("Vorgänge vor Ort"))
    expect(cases.get_by_role("link", name=case[:8])).to_be_visible()
    assert_accessible(page, "appointments/03-day-board")
    day = page.get_by_role("table", name="Termine des Tages")
    day.get_by_role("row").nth(1).get_by_role("button", name=re.compile("^Erschienen")).click()
    expect(page.get_by_role("status")).to_have_text("Erfasst.")
    page.get_by_role("button", name="Nicht erschienen").first.click()
    page.get_by_role("button", name="Vorsprache ohne Termin erfassen").click()
    expect(page.get_by_role("status")).to_have_text("Vorsprache ohne Termin erfasst.")
    counts = page.get_by_role("table", name="Stand des Tages")
    expect(counts.get_by_role("cell")).to_have_text(["2", "1", "1", "1", "0"])
    assert_accessible(page, "appointments/04-day-board-done")
    statuses = sorted(r["status"] for r in rows(center))
    assert statuses == ["attended", "no_show", "walk_in"]


def test_pages_need_a_role_that_may_book_and_forms_need_their_token(center, page) -> None:
    console_sign_in(page, center.url, "auswertung", PASSWORD)
    expect(page.get_by_role("link", name="Termine")).to_have_count(0)
    page.goto(f"{center.url}/console/appointments/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("nicht zu Ihren Rollen")
    assert_accessible(page, "appointments/05-not-your-role")
    with httpx.Client(base_url=center.url, follow_redirects=False) as anonymous:
        r = anonymous.get("/console/day-board/")
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=center.url, cookies=cookies) as forged:
        r = forged.post(
            "/console/appointments/book",
            data={"office": "10", "service": AUSWEIS, "start": "2030-01-01T09:00:00+01:00",
                  "family_name": "X", "telephone": "1234567"},
        )  # fmt: skip
    assert r.status_code == 403 and rows(center) == []
