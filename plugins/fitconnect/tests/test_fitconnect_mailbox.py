"""The BundID mailbox behind FIT-Connect's ZBP adapter, in the simulator: a sender client
posts a message for a Postkorb-Handle (once per Idempotency-Key), tests read the mailbox; and
the notify plugin, configured with it, tells a citizen who chose the mailbox there."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hub.testing import LiveHub, hub_config, sample_submission, wait_until

# The sender client the simulator fixture registers (conftest.py).
SEND_CLIENT, SECRET = "sender-1", "s3cret-client-secret-0123456789"
MAILBOX = "b980f78d-f5e0-45d9-8971-cc0e27f0beaf"
TOKEN = "mailbox-test-token-0123"


def token(url: str) -> str:
    r = httpx.post(
        f"{url}/token",
        data={"grant_type": "client_credentials", "client_id": SEND_CLIENT,
              "client_secret": SECRET},
    )  # fmt: skip
    return r.json()["access_token"]


def test_the_mailbox_takes_a_message_once_and_refuses_bad_ones(simulator) -> None:
    url = f"{simulator.url}/zbp/v1/messages"
    message = {"mailboxUuid": MAILBOX, "title": "Abholbereit", "content": "Ihr Pass ist fertig.",
               "sender": "Bürgerbüro", "service": "Reisepass"}  # fmt: skip
    auth = {"Authorization": f"Bearer {token(simulator.url)}", "Idempotency-Key": "k-1"}
    first = httpx.post(url, json=message, headers=auth)
    again = httpx.post(url, json=message, headers=auth)
    assert first.status_code == 201 and again.json() == first.json()
    assert httpx.post(url, json=message).status_code == 401  # no token, no message
    bad = httpx.post(url, json={**message, "mailboxUuid": "nobody"}, headers=auth | {
        "Idempotency-Key": "k-2"})  # fmt: skip
    assert bad.status_code == 400 and "mailboxUuid" in bad.json()["detail"]
    box = httpx.get(f"{simulator.url}/zbp/v1/mailboxes/{MAILBOX}/messages").json()["messages"]
    assert [m["title"] for m in box] == ["Abholbereit"] and box[0]["sentBy"] == SEND_CLIENT


@pytest.mark.parametrize("chosen", [["postfach", "email"], ["letter", "postfach"]])
def test_a_citizen_who_chose_the_mailbox_is_told_there(
    simulator, tmp_path: Path, chosen, monkeypatch
) -> None:
    """With the notify plugin installed and configured (it is not imported: configured only)."""
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        adapters={
            "file": {"directory": str(tmp_path / "out")},
            "notify": {
                "type": "notify",
                "sender": "buergerbuero@duesseldorf.example",
                "postfach_url": f"{simulator.url}/zbp/v1/messages",
                "postfach_token_url": f"{simulator.url}/token",
                "postfach_client_id": SEND_CLIENT,
                "postfach_client_secret": "env:TEST_MAILBOX_SECRET",
            },
        },
        plugins={
            "ozg_catalog": {"pvog_enabled": False},
            "notify": {"public_url": "https://hub.example", "quiet_hours": ""},
        },
    )
    monkeypatch.setenv("TEST_MAILBOX_SECRET", SECRET)
    data = sample_submission(notifications={"channels": chosen, "consent": True})
    data["applicant"]["identity"] = {
        "method": "bundid", "trust_level": "substantiell", "mailbox_uuid": MAILBOX,
    }  # fmt: skip
    with LiveHub(config) as live, live.client(TOKEN) as c:
        rid = c.post("/v1/records", json=data).json()["id"]
        live.hub.report_status(rid, "fitconnect:rejected", "Unterlagen fehlen.", key="r")

        def told() -> list[str]:
            return [h["status"] for h in c.get(f"/v1/records/{rid}").json()["history"]
                    if h["status"].startswith("notify:")]  # fmt: skip

        assert wait_until(lambda: bool(told()), timeout=15)
        statuses = told()
    box = httpx.get(f"{simulator.url}/zbp/v1/mailboxes/{MAILBOX}/messages").json()["messages"]
    if chosen[0] == "postfach":
        assert statuses == ["notify:sent"]
        [message] = box
        assert message["title"].startswith("Ihr Antrag wurde abgelehnt")
        assert "Der Grund: Unterlagen fehlen." in message["content"]
        assert message["reference"] == rid
    else:  # the letter comes first in their order (the sample applicant has an address)
        assert statuses == ["notify:letter_queued"] and box == []
