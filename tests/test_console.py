"""The console over HTTP: signing in (argon2, CSRF on the form), pages scoped to a person's
municipalities exactly like an API client, bad filters named, retry audited, the `hub staff`
commands. The browser walk-through with accessibility checks is in test_console_browser."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hub.core.staff import StaffStore
from hub.core.store.schema import staff_accounts
from hub.testing import (
    CliState,
    LiveHub,
    PluginManager,
    WebhookReceiver,
    build_cli,
    sample_submission,
    wait_until,
)

TOKEN = "console-test-token-0123"
PASSWORD = "korrekt Pferd Batterie"


@pytest.fixture
def receiver():
    found = WebhookReceiver()
    with found.running():
        yield found


@pytest.fixture
def console(make_config, receiver) -> LiveHub:
    os.environ["HUB_TEST_WEBHOOK_SECRET"] = "console-webhook-secret-01"
    config = make_config(
        routes=[{"adapters": ["crm"]}],
        adapters={
            "crm": {
                "type": "webhook",
                "url": receiver.url,
                "secret": "env:HUB_TEST_WEBHOOK_SECRET",
            }
        },
        clients=[
            {
                "name": "portal",
                "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
                "scopes": ["records:write", "records:read", "admin"],
                "municipalities": ["*"],
            }
        ],
    )
    with LiveHub(config) as live:
        people = StaffStore(live.hub.store)
        people.add("ops", display_name="Ops NRW", password=PASSWORD, roles=["ops"],
                   municipalities=["*"], by="test")  # fmt: skip
        people.add("sc-ddorf", display_name="ServiceCenter Düsseldorf", password=PASSWORD,
                   roles=["service_center"], municipalities=["05111*"], by="test")  # fmt: skip
        people.add("ops-essen", display_name="Ops Essen", password=PASSWORD, roles=["ops"],
                   municipalities=["05113*"], by="test")  # fmt: skip
        yield live


def submit(live: LiveHub, ars: str = "051110000000") -> str:
    with live.client(TOKEN) as c:
        r = c.post("/v1/records", json=sample_submission(municipality={"ars": ars}))
        assert r.status_code == 202, r.text
        return r.json()["id"]


@contextmanager
def sign_in(live: LiveHub, username: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """A browser-like client that filled in the sign-in form; ``.last`` is the answer."""
    with httpx.Client(base_url=live.url, follow_redirects=True) as browser:
        page = browser.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        browser.last = browser.post(  # type: ignore[attr-defined]
            "/console/login",
            data={"username": username, "password": password, "csrf": token, "next": "/console/"},
        )
        yield browser


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_root_leads_to_the_sign_in_and_a_wrong_password_is_refused(console) -> None:
    with httpx.Client(base_url=console.url, follow_redirects=True) as anonymous:
        r = anonymous.get("/")
        assert r.url.path == "/console/login" and r.status_code == 200
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        page = anonymous.get("/console/records")
        assert page.url.path == "/console/login" and "next=%2Fconsole%2Frecords" in str(page.url)
    with sign_in(console, "ops", "not the password") as wrong:
        assert wrong.last.status_code == 401 and "Passwort ist falsch" in wrong.last.text
        assert "hub_console" not in wrong.cookies
    with sign_in(console, "nobody") as unknown:
        assert unknown.last.status_code == 401
    with sign_in(console, "ops") as right:
        assert right.last.status_code == 200 and right.last.url.path == "/console/"
        cookie = next(c for c in right.cookies.jar if c.name == "hub_console")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/console"
    with console.hub.store.reading() as conn:
        stored = conn.execute(select(staff_accounts.c.password_hash)).scalars().all()
    assert all(h.startswith("$argon2id$") for h in stored)  # never the password


def test_a_login_form_without_its_token_is_refused(console) -> None:
    with httpx.Client(base_url=console.url) as forger:
        r = forger.post(
            "/console/login", data={"username": "ops", "password": PASSWORD, "csrf": "x" * 20}
        )
    assert r.status_code == 403 and "hub_console" not in r.cookies


def test_a_person_sees_only_their_municipalities(console) -> None:
    ours, theirs = submit(console, "051110000000"), submit(console, "051130000000")
    with sign_in(console, "sc-ddorf") as sc:
        listed = sc.get("/console/records").text
        assert ours[:8] in listed and theirs[:8] not in listed
        assert sc.get(f"/console/records/{theirs}").status_code == 404
        assert sc.get(f"/console/records/{ours}").status_code == 200
        assert sc.get("/console/dead-letters").status_code == 403  # not an ops role
        assert "Fehlgeschlagene Zustellungen" not in sc.get("/console/").text


def test_bad_filters_name_the_field_and_change_nothing(console) -> None:
    submit(console)
    with sign_in(console, "ops") as ops:
        r = ops.get("/console/records", params={"status": "lost", "ars": "05x", "from": "gestern"})
        assert r.status_code == 400
        for field in ("status", "ars", "from"):
            assert f"<code>{field}</code>" in r.text
        ok = ops.get("/console/records", params={"leika": "99115*", "channel": "portal"})
        assert ok.status_code == 200
        english = ops.get("/console/records", params={"lang": "en", "status": "lost"})
        assert 'lang="en"' in english.text and "Input not usable" in english.text


def test_dead_letters_are_retried_with_the_csrf_token_and_audited(console, receiver) -> None:
    receiver.fail_next(2, 422)
    first, second = submit(console), submit(console, "051130000000")
    assert wait_until(lambda: len(console.hub.store.dead_letters(10)) == 2)
    with sign_in(console, "ops-essen") as essen:  # sees only the Essen record
        page = essen.get("/console/dead-letters")
        assert second[:8] in page.text and first[:8] not in page.text
        forged = essen.post("/console/dead-letters/retry", data={"record_id": [first, second]})
        assert forged.status_code == 403
        scoped = essen.post(
            "/console/dead-letters/retry",
            data={"csrf": csrf_of(page.text), "record_id": [first, second]},
        )
        assert scoped.url.path == "/console/dead-letters" and "Erneut eingereiht: 1" in scoped.text
    assert wait_until(lambda: console.hub.store.get_record(second).status.value == "delivered")
    assert console.hub.store.get_record(first).status.value == "dead_letter"  # not theirs
    trail = StaffStore(console.hub.store).audit_trail()
    retries = [a for a in trail if a["action"] == "retry"]
    assert [(a["username"], a["target"], a["detail"]) for a in retries] == [
        ("ops-essen", second, "crm")
    ]
    assert {"session.open", "staff.add"} <= {a["action"] for a in trail}


def test_staff_accounts_on_the_command_line(console, tmp_path: Path) -> None:
    config = tmp_path / "cli.toml"
    config.write_text(
        f'[store]\nurl = "{console.hub.config.store.url}"\n'
        f'[attachments]\ndirectory = "{tmp_path}/att"\n'
    )
    pm = PluginManager()

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(
            build_cli(pm), ["--config", str(config), *args], obj=CliState(None, pm), input=input
        )

    made = run(
        "staff", "add", "mo-team", "--role", "mobile_office", "--municipality", "05111*",
        "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    short = run("staff", "add", "x-y", "--role", "ops", "--municipality", "*",
                "--password-stdin", input="short\n")  # fmt: skip
    assert short.exit_code != 0 and "password" in short.output and "min_length" in short.output
    bad = run("staff", "add", "Bad Name", "--role", "ops", "--municipality", "*",
              "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert bad.exit_code != 0 and "username" in bad.output
    sso = run("staff", "add", "sso-person", "--role", "reporting", "--municipality", "*",
              "--sso-only")  # fmt: skip
    assert sso.exit_code == 0, sso.output
    with sign_in(console, "sso-person", "") as nobody:  # no password can match
        assert nobody.last.status_code == 401
    listed = run("staff", "list")
    assert "mo-team" in listed.output and "mobile_office" in listed.output
    with sign_in(console, "mo-team") as team:
        assert team.last.status_code == 200
        assert run("staff", "disable", "mo-team").exit_code == 0
        assert team.get("/console/").url.path == "/console/login"  # its sessions ended
    assert "staff.disable" in run("staff", "audit").output
