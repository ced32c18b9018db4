"""The Bürgerkoffer page of the staff console in a real browser: ops register a device (the
credential is shown once and works at once), revoke it (refused at once), and see only their
municipalities' devices; every page passes axe-core."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from hub.testing import add_staff, assert_accessible, console_sign_in

PASSWORD = "Koffer bleibt im Schrank"


@pytest.fixture
def page(console_page: Page) -> Page:
    return console_page


def test_ops_register_and_revoke_a_koffer_of_their_municipality(koffer, page) -> None:
    live = koffer.live
    add_staff(live, "it-ddorf", PASSWORD, roles=["ops"], municipalities=["05111*"])
    add_staff(live, "it-essen", PASSWORD, roles=["ops"], municipalities=["05113*"])
    console_sign_in(page, live.url, "it-essen", PASSWORD)
    page.get_by_role("link", name="Bürgerkoffer").click()
    expect(page.get_by_role("table", name="Geräte")).not_to_contain_text("koffer-07")
    page.get_by_label("Name").fill("koffer-ddorf-2")
    page.get_by_label("Kommune (ARS)").fill("051110000000")
    page.get_by_role("button", name="Registrieren").click()
    expect(page.get_by_role("alert")).to_contain_text("not one of yours")
    page.get_by_role("button", name="Abmelden").click()

    koffer.upload(b"a document of the case", "document", "case-console-01")  # complete, today
    console_sign_in(page, live.url, "it-ddorf", PASSWORD)
    page.get_by_role("link", name="Bürgerkoffer").click()
    ours = page.get_by_role("row").filter(has_text="koffer-07")
    expect(ours.get_by_role("cell")).to_contain_text(["koffer-07", "051110000000"])
    expect(ours.get_by_role("cell").nth(4)).to_have_text("0")  # none still running
    expect(ours.get_by_role("cell").nth(5)).to_have_text("1")  # one complete
    assert_accessible(page, "koffer/01-devices")
    page.get_by_label("Name").fill("koffer-ddorf-2")
    page.get_by_label("Kommune (ARS)").fill("051110000000")
    page.get_by_role("button", name="Registrieren").click()
    credential = page.locator(".notice code").inner_text()
    assert credential.startswith("koffer_")
    assert_accessible(page, "koffer/02-registered")
    headers = {"Authorization": f"Bearer {credential}"}
    with httpx.Client(base_url=live.url) as device:
        probe = "/v1/koffer/applications/00000000-0000-0000-0000-000000000000"
        assert device.get(probe, headers=headers).status_code == 404  # known, nothing there
        row = page.get_by_role("row").filter(has_text="koffer-ddorf-2")
        row.get_by_role("button", name="Sperren").click()
        expect(page.get_by_role("status")).to_have_text("Gesperrt.")
        expect(page.get_by_role("row").filter(has_text="koffer-ddorf-2")).to_contain_text(
            "gesperrt seit"
        )
        assert device.get(probe, headers=headers).status_code == 401
    page.reload()
    expect(page.locator(".notice code")).to_have_count(0)  # shown once, never again
    with live.hub.store.reading() as conn:
        from sqlalchemy import text

        trail = conn.execute(text("SELECT username, action, target FROM staff_audit")).all()
    assert ("it-ddorf", "koffer.register", "device:koffer-ddorf-2") in trail
    assert ("it-ddorf", "koffer.revoke", "device:koffer-ddorf-2") in trail
    assert not any(credential in str(row) for row in trail)
