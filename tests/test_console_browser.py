"""The console in a real browser: Playwright driving Debian's Chromium (`make test` installs
it; no browser is downloaded), every page checked with axe-core (the copy bundled in
axe-playwright-python, so nothing comes from the internet) for serious and critical
violations of WCAG 2.1 AA (`hub.testing.assert_accessible`). Screenshots of each screen are
written to $HUB_TEST_ARTIFACTS/console (default var/test-artifacts)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hub.core.staff import StaffStore
from hub.testing import (
    LiveHub,
    WebhookReceiver,
    assert_accessible,
    sample_submission,
    wait_until,
)

TOKEN = "console-browser-token-01"
PASSWORD = "Bürgerkoffer mit Kamera"


@pytest.fixture
def page(console_page: Page) -> Page:
    return console_page


def accessible(page: Page, name: str) -> None:
    assert_accessible(page, f"console/{name}")


@pytest.fixture
def console(make_config) -> Iterator[tuple[LiveHub, WebhookReceiver]]:
    os.environ["HUB_TEST_WEBHOOK_SECRET"] = "console-webhook-secret-02"
    receiver = WebhookReceiver()
    config = make_config(
        routes=[{"adapters": ["crm"]}],
        adapters={
            "crm": {"type": "webhook", "url": receiver.url, "secret": "env:HUB_TEST_WEBHOOK_SECRET"}
        },
        clients=[
            {
                "name": "portal",
                "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
                "scopes": ["records:write", "records:read"],
                "municipalities": ["*"],
            }
        ],
    )
    with receiver.running(), LiveHub(config) as live:
        StaffStore(live.hub.store).add(
            "leitstelle", display_name="Leitstelle IT", password=PASSWORD, roles=["ops"],
            municipalities=["*"], by="test",
        )  # fmt: skip
        yield live, receiver


def test_ops_find_a_dead_letter_retry_it_and_see_it_delivered(console, page: Page) -> None:
    live, receiver = console
    receiver.fail_next(1, 422)
    with live.client(TOKEN) as c:
        rid = c.post("/v1/records", json=sample_submission()).json()["id"]
    assert wait_until(lambda: live.hub.store.get_record(rid).status.value == "dead_letter")

    page.goto(f"{live.url}/")
    expect(page).to_have_url(f"{live.url}/console/login?next=%2Fconsole%2F")
    accessible(page, "01-sign-in")
    page.get_by_label("Benutzername").fill("leitstelle")
    page.get_by_label("Passwort").fill("falsch")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_contain_text("Passwort ist falsch")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Übersicht")
    expect(page.get_by_text("Angemeldet als")).to_contain_text("Leitstelle IT")
    accessible(page, "02-overview")

    page.get_by_role("link", name="Fehlgeschlagene Zustellungen").first.click()
    row = page.get_by_role("row").filter(has_text=rid[:8])
    expect(row).to_contain_text("permanent: webhook answered 422")
    accessible(page, "03-dead-letters")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Ausgewählte erneut zustellen").click()
    expect(page.get_by_role("status")).to_have_text("Erneut eingereiht: 1")
    assert wait_until(lambda: live.hub.store.get_record(rid).status.value == "delivered")

    page.get_by_role("link", name="Vorgänge", exact=True).click()
    page.get_by_label("Status").select_option("delivered")
    page.get_by_role("button", name="Filtern").click()
    expect(page).to_have_url(
        f"{live.url}/console/records?status=delivered&channel=&adapter=&ars=&leika=&from=&to="
    )
    accessible(page, "04-records")
    page.get_by_role("link", name=rid[:8]).click()
    expect(page.get_by_role("table", name="Zustellungen")).to_contain_text("delivered")
    expect(page.locator(".timeline")).to_contain_text("dead_letter")
    accessible(page, "05-record")

    page.get_by_role("link", name="Protokoll").click()
    expect(page.get_by_role("row").filter(has_text=rid)).to_contain_text("retry")
    accessible(page, "06-audit")
    page.get_by_role("link", name="Systemzustand").click()
    expect(page.get_by_role("table", name="Systemzustand")).to_contain_text("adapter crm")
    accessible(page, "07-health")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Health")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live.url}/console/login")


def test_the_console_is_usable_with_the_keyboard_alone(console, page: Page) -> None:
    live, _ = console
    page.goto(f"{live.url}/console/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Zum Inhalt springen")).to_be_focused()
    page.get_by_label("Benutzername").focus()
    page.keyboard.type("leitstelle")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Übersicht")
