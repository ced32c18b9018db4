"""Where the office answers: the citizen's choice of channel (``notifications``) becomes
FIT-Connect's ``replyChannel`` — the BundID mailbox by its Postkorb-Handle, or e-mail — with
the status monitor's Antrags-ID and the consent to a digital decision, valid against the
official metadata schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

import hub
from hub.testing import sample_submission
from hub_fitconnect import schemas
from hub_fitconnect.sender import reply_metadata

MAILBOX = "b980f78d-f5e0-45d9-8971-cc0e27f0beaf"
APPLICATION = "0b5e3c1a-7d2f-4e8b-9c6a-1f2e3d4c5b6a"


def record(notifications: dict[str, Any] | None, *, mailbox: bool = True) -> hub.Record:
    data = sample_submission(channel="portal")
    identity = {"method": "bundid", "trust_level": "substantiell", "application_id": APPLICATION}
    if mailbox:
        identity["mailbox_uuid"] = MAILBOX
    data["applicant"] = {**data["applicant"], "email": "erika@example.org", "identity": identity}
    if notifications is not None:
        data["notifications"] = notifications
    return hub.Record.model_validate(
        {**data, "id": str(uuid.uuid4()), "received_at": datetime.now(UTC), "status": "accepted"}
    )


def full(reply: dict[str, Any]) -> dict[str, Any]:
    digest = {"type": "sha512", "content": "0" * 128}
    return {
        "$schema": schemas.schema_uri(),
        "contentStructure": {
            "data": {"hash": digest, "submissionSchema": {
                "schemaUri": "https://schema.example.org/x/1.0.0/schema.json",
                "mimeType": "application/json"}},
            "attachments": [],
        },
        **reply,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("wish", "mailbox", "channel"),
    [
        ({"channels": ["postfach", "email"], "consent": True}, True,
         {"idBundDeMailbox": {"mailboxUuid": MAILBOX}}),
        ({"channels": ["postfach", "email"], "consent": True}, False,
         {"eMail": {"address": "erika@example.org"}}),  # no handle from the login: next one
        ({"channels": ["email", "postfach"], "consent": True}, True,
         {"eMail": {"address": "erika@example.org"}}),
        ({"channels": ["letter", "postfach"], "consent": True}, True, None),
        ({"channels": ["postfach"], "consent": False}, True, None),
        (None, True, None),
    ],
)  # fmt: skip
def test_the_citizens_choice_becomes_the_reply_channel(schema_dir, wish, mailbox, channel):
    reply = reply_metadata(record(wish, mailbox=mailbox))
    assert reply.get("replyChannel") == channel
    refs = reply["additionalReferenceInfo"]
    assert refs["idBundDeApplicationId"] == APPLICATION
    if wish is None:
        assert "zustimmungZumDigitalenBescheid" not in refs
    else:
        assert refs["zustimmungZumDigitalenBescheid"] is wish["consent"]  # false stays false
    assert schemas.problems(full(reply), schema_dir) == []


def test_a_submission_names_each_channel_once_and_only_known_ones() -> None:
    for channels in (["email", "email"], ["sms"], []):
        with pytest.raises(ValueError):
            record({"channels": channels, "consent": True})
