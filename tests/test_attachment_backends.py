"""One attachment store: bytes a plugin keeps its own way (a backend) are listed, opened and
deleted through the hub's store; their rows commit with the record."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

import hub
from hub.core.api import create_app
from hub.core.errors import ConfigurationError
from hub.core.hub import Hub
from hub.testing import PluginManager, sample_submission

from .conftest import TOKEN


class Vault:
    """Keeps bytes in memory under a reference; what a sealed store would do on disk."""

    client_readable = False

    def __init__(self) -> None:
        self.kept = {"ref-1": b"fingerprint template"}
        self.deleted: list[str] = []

    def open(self, ref: str) -> io.BytesIO:
        if ref not in self.kept:
            raise LookupError(ref)
        return io.BytesIO(self.kept[ref])

    def delete(self, ref: str) -> None:
        self.deleted.append(ref)
        self.kept.pop(ref, None)


def hub_with(vault: object, make_config) -> Hub:
    class Sealed:
        @hub.hookimpl
        def register_attachment_backends(self, register, hub):
            register("vault", vault)

    pm = PluginManager()
    pm.register(Sealed(), name="sealed")
    h = Hub(make_config(), pm)
    h.start(intake_thread=False)
    return h


def attachment() -> hub.Attachment:
    return hub.Attachment(
        id="fp-1",
        purpose="fingerprint",
        media_type="application/octet-stream",
        size=20,
        sha256="ab" * 32,
    )


def test_held_bytes_commit_with_the_record_and_are_withheld_from_clients(make_config):
    vault = Vault()
    h = hub_with(vault, make_config)
    try:
        held = h.attachments.stage_held(attachment(), backend="vault", ref="ref-1")
        rid = h.intake.submit(
            hub.Submission.model_validate(sample_submission()), client="t", files=[held]
        ).record_id
        assert [a.id for a in h.attachments.list(rid)] == ["fp-1"]
        assert h.attachments.read(rid, "fp-1") == b"fingerprint template"  # for adapters
        with TestClient(create_app(h)) as c:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            listed = c.get(f"/v1/records/{rid}/attachments", headers=auth).json()["items"]
            assert [a["purpose"] for a in listed] == ["fingerprint"]
            r = c.get(f"/v1/records/{rid}/attachments/fp-1", headers=auth)
            assert r.status_code == 403 and b"fingerprint template" not in r.content
            h.attachments.delete(rid, "fp-1")  # e.g. after confirmed delivery
            assert vault.deleted == ["ref-1"] and h.attachments.list(rid) == []
            r = c.get(f"/v1/records/{rid}/attachments/fp-1", headers=auth)
            assert r.status_code == 404
    finally:
        h.close()


def test_bytes_a_backend_lost_are_gone_not_an_error(make_config):
    vault = Vault()
    h = hub_with(vault, make_config)
    try:
        held = h.attachments.stage_held(attachment(), backend="vault", ref="ref-1")
        rid = h.intake.submit(
            hub.Submission.model_validate(sample_submission()), client="t", files=[held]
        ).record_id
        vault.kept.clear()  # destroyed by retention
        with pytest.raises(LookupError):
            h.attachments.open(rid, "fp-1")
        vault.client_readable = True
        with TestClient(create_app(h)) as c:
            r = c.get(
                f"/v1/records/{rid}/attachments/fp-1", headers={"Authorization": f"Bearer {TOKEN}"}
            )
        assert r.status_code == 410 and r.json()["title"] == "Gone"
    finally:
        h.close()


def test_backends_are_checked_when_registered(make_config):
    class Incomplete:
        client_readable = False

        def open(self, ref):
            return io.BytesIO()

    with pytest.raises(ConfigurationError, match="needs open"):
        hub_with(Incomplete(), make_config)
    h = hub_with(Vault(), make_config)
    try:
        with pytest.raises(ConfigurationError, match="no attachment backend 'safe'"):
            h.attachments.stage_held(attachment(), backend="safe", ref="x")
        with pytest.raises(ConfigurationError, match="already registered"):
            h.attachments.register_backend("files", Vault())
    finally:
        h.close()
