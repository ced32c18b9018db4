"""An Anmeldung that reached the XTA gateway is never sent twice and never dead-lettered because
the gateway has it: after kill -9 of the delivering process, after a taken-over lease, after
``hub retry``. Whether to ask the gateway depends on the checkpointed MessageID, not on the
attempt number."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import hub
from hub.testing import wait_until
from hub_xmeld import schemas, xta

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-record.json"
PORTAL = "psw:05111999"
READER = xta.Party("ags:05111000")
SEND = {
    "service": "http://www.osci.de/xmeld2511a/xmeld2511aOnlinedienste.wsdl",
    "message_type": "1704",
    "payload_schema": schemas.XMELD_NS,
    "content": b"<x/>",
    "filename": "1704.xml",
}


def test_a_retried_dead_letter_asks_the_gateway_instead_of_sending_again(
    gateway, xta_client, delivery
) -> None:
    client = xta_client(gateway, PORTAL)
    first = xta.send_once(delivery(1), client, READER, **SEND)
    # `hub retry` starts the attempts again at 1: the checkpoint, not the number, must decide.
    again = xta.send_once(delivery(1), client, READER, **SEND)
    assert again == first and list(gateway.messages) == [first]


def _config(tmp_path: Path, gateway, xoev_dir: Path) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path / "hub.db"}"
[delivery]
workers = 1
poll_interval = 0.05
lease_seconds = 3
timeout = 2
backoff_initial = 0.05
backoff_max = 0.2
[attachments]
directory = "{tmp_path / "attachments"}"
[plugins.ozg_catalog]
pvog_enabled = false
[[routes]]
leika = "991150*"
adapters = ["xmeld"]
[adapters.xmeld]
management_url = "{gateway.url}/management"
send_url = "{gateway.url}/send"
msgbox_url = "{gateway.url}/msgbox"
account = "{PORTAL}"
schema_dir = "{xoev_dir}"
timeout = 60
author_name = "Serviceportal Düsseldorf (hub)"
author_email = "hub@example.org"
[adapters.xmeld.author_address]
strasse = "Marktplatz"
hausnummer = "2"
postleitzahl = "40213"
wohnort = "Düsseldorf"
""",
        encoding="utf-8",
    )
    return path


def _worker(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "--config", str(config), "worker"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_kill_9_between_send_and_completion_ends_delivered_with_one_message(
    gateway, xoev_dir, tmp_path
) -> None:
    config = _config(tmp_path, gateway, xoev_dir)
    submitted = subprocess.run(
        [sys.executable, "-m", "hub", "--config", str(config), "submit", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    # The gateway takes the message, then holds its answer: the worker dies waiting for it.
    gateway.slow_answers["sendMessage"] = 60
    log = tmp_path / "worker.log"
    first = _worker(config, log)
    try:
        assert wait_until(lambda: len(gateway.messages) == 1, timeout=60), log.read_text()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    gateway.slow_answers.clear()
    second = _worker(config, log)
    try:
        store = hub.Store(f"sqlite:///{tmp_path / 'hub.db'}")
        [row] = store.list_records(limit=10)

        def delivered() -> bool:
            return store.get_record(row.id).status is hub.RecordStatus.delivered

        assert wait_until(delivered, timeout=60), log.read_text()
        assert len(gateway.messages) == 1  # the gateway's copy is the only one
        record = store.get_record(row.id)
        assert not [h for h in record.history if h.status == "dead_letter"]
        store.dispose()
    finally:
        second.terminate()
        second.wait(20)
