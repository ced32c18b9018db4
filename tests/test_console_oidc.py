"""Signing in to the console with the municipality's OpenID Connect provider (a real provider
on loopback, a real browser): code flow with PKCE, the ID token checked (signature, audience,
nonce), and only people with a hub account get in — with that account's roles and
municipalities."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from hub.core.staff import StaffStore
from hub.testing import LiveHub, assert_accessible

from .oidc_provider import Provider

CLIENT_ID, CLIENT_SECRET = "hub-console", "oidc-client-secret-0123"


@pytest.fixture
def page(console_page: Page) -> Page:
    return console_page


@pytest.fixture
def sso(make_config) -> Iterator[tuple[LiveHub, Provider]]:
    provider = Provider(CLIENT_ID, CLIENT_SECRET)
    server = provider.start()
    os.environ["HUB_TEST_OIDC_SECRET"] = CLIENT_SECRET
    config = make_config(
        console={
            "oidc": {
                "issuer": provider.issuer,
                "client_id": CLIENT_ID,
                "client_secret": "env:HUB_TEST_OIDC_SECRET",
                "label": "Mit dem Dienstkonto der Stadt anmelden",
            }
        }
    )
    try:
        with LiveHub(config) as live:
            StaffStore(live.hub.store).add(
                "erika", display_name="Erika (SSO)", password=None, roles=["ops"],
                municipalities=["05111*"], by="test",
            )  # fmt: skip
            yield live, provider
    finally:
        server.stop()


def test_a_person_with_an_account_signs_in_at_the_municipality(sso, page: Page) -> None:
    live, _ = sso
    page.goto(f"{live.url}/console/records")
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmelden")
    assert_accessible(page, "console/08-sign-in-sso")
    page.get_by_role("link", name="Mit dem Dienstkonto der Stadt anmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vorgänge")  # back where asked
    expect(page.get_by_text("Angemeldet als")).to_contain_text("Erika (SSO)")
    trail = [a["action"] for a in StaffStore(live.hub.store).audit_trail()]
    assert "session.sso" in trail


def test_only_people_with_an_account_get_in(sso, page: Page) -> None:
    live, provider = sso
    provider.user = "mallory"
    page.goto(f"{live.url}/console/oidc/login")
    expect(page.get_by_role("alert")).to_contain_text("kein Konto")
    assert "hub_console" not in {c["name"] for c in page.context.cookies()}


@pytest.mark.parametrize("forge", ["nonce", "audience", "signature"])
def test_a_forged_id_token_is_refused(sso, page: Page, forge: str) -> None:
    live, provider = sso
    provider.forge = forge
    page.goto(f"{live.url}/console/oidc/login")
    expect(page.get_by_role("alert")).to_contain_text("ID token is not valid")
    assert "hub_console" not in {c["name"] for c in page.context.cookies()}


def test_a_callback_this_browser_did_not_start_is_refused(sso) -> None:
    live, _ = sso
    with httpx.Client(base_url=live.url) as other:
        r = other.get("/console/oidc/callback", params={"code": "x", "state": "y"})
        assert r.status_code == 403 and "lacks code, state or this browser" in r.text
        assert "hub_console" not in r.cookies
        started = other.get("/console/oidc/login")
        assert started.status_code == 303
        sealed = other.cookies["hub_console_oidc"]
        tampered = sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")
        other.cookies.set("hub_console_oidc", tampered, path="/console/oidc")
        r = other.get("/console/oidc/callback", params={"code": "x", "state": "y"})
        assert r.status_code == 403 and "not started in this browser" in r.text
        assert "hub_console" not in r.cookies


def test_without_oidc_settings_there_is_no_such_button(make_config) -> None:
    with LiveHub(make_config()) as live, httpx.Client(base_url=live.url) as c:
        assert "/console/oidc/login" not in c.get("/console/login").text
        assert c.get("/console/oidc/login").status_code == 404
