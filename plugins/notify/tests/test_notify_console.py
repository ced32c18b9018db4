"""The print queue in the staff console, in a real browser: ops of a municipality see its
letters only, open the PDF, mark it printed (the PDF is gone then); the page passes axe-core."""

from __future__ import annotations

import pytest
from notify_mail import TOKEN
from playwright.sync_api import Page, expect

from hub.testing import add_staff, assert_accessible, console_sign_in, sample_submission, wait_until

PASSWORD = "Briefe drucken wir montags"


@pytest.fixture
def page(console_page: Page) -> Page:
    return console_page


def test_ops_print_the_letters_of_their_municipality(office, mail, page) -> None:
    data = sample_submission(notifications={"channels": ["letter"], "consent": True})
    with office.client(TOKEN) as c:
        rid = c.post("/v1/records", json=data).json()["id"]
    office.hub.report_status(rid, "passport_office:ready_for_pickup", key="pickup")
    with office.client(TOKEN) as c:
        assert wait_until(lambda: len(c.get("/v1/notify/letters").json()["items"]) == 1)
    add_staff(office, "druck-essen", PASSWORD, roles=["ops"], municipalities=["05113*"])
    add_staff(office, "druck-ddorf", PASSWORD, roles=["ops"], municipalities=["05111*"])
    console_sign_in(page, office.url, "druck-essen", PASSWORD)
    page.get_by_role("link", name="Briefe").click()
    expect(page.get_by_role("table", name="Briefe zum Drucken")).to_contain_text(
        "Keine Briefe zu drucken."
    )
    page.get_by_role("button", name="Abmelden").click()
    console_sign_in(page, office.url, "druck-ddorf", PASSWORD)
    page.get_by_role("link", name="Briefe").click()
    row = page.get_by_role("row").filter(has_text=rid[:8])
    expect(row).to_contain_text("Abholbereit")
    assert_accessible(page, "notify/01-letters")
    href = row.get_by_role("link", name="PDF").get_attribute("href")
    answer = page.request.get(office.url + href)
    assert answer.ok and answer.body().startswith(b"%PDF-")
    row.get_by_role("button", name="Gedruckt").click()
    expect(page.get_by_role("status")).to_have_text("Als gedruckt vermerkt.")
    expect(page.get_by_role("table", name="Briefe zum Drucken")).not_to_contain_text(rid[:8])
    assert page.request.get(office.url + href).status == 404
