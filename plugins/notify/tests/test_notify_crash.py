"""Never twice: a worker killed (kill -9) while the mail server has the message but has not
answered leaves the message as it is; the next worker reports it uncertain and does not send
it again. Over a real SMTP server on loopback and real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import hub
from hub.testing import sample_submission, wait_until


def _config(tmp_path: Path, mail) -> Path:
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
[plugins.notify]
public_url = "https://hub.duesseldorf.example"
quiet_hours = ""
[[routes]]
adapters = ["notify"]
[adapters.notify]
type = "notify"
smtp_host = "{mail.host}"
smtp_port = {mail.port}
ca_bundle = "{mail.ca}"
sender = "buergerbuero@duesseldorf.example"
timeout = 60
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


def test_kill_9_while_the_server_has_the_message_sends_it_once(mail, tmp_path) -> None:
    config = _config(tmp_path, mail)
    record = tmp_path / "record.json"
    data = sample_submission(notifications={"channels": ["email"], "consent": True})
    data["applicant"]["email"] = "erika@example.org"
    record.write_text(json.dumps(data), encoding="utf-8")
    submitted = subprocess.run(
        [sys.executable, "-m", "hub", "--config", str(config), "submit", str(record)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    mail.hold_data = 60  # the server keeps the message and holds its answer
    log = tmp_path / "worker.log"
    first = _worker(config, log)
    try:
        assert mail.in_data.wait(60), log.read_text()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    mail.hold_data = 0
    second = _worker(config, log)
    store = hub.Store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        [row] = store.list_records(limit=10)

        def settled() -> bool:
            return store.get_record(row.id).status is hub.RecordStatus.delivered

        assert wait_until(settled, timeout=60), log.read_text()
        history = [h.status for h in store.get_record(row.id).history]
        assert "notify:uncertain" in history and "notify:sent" not in history
        assert len(mail.received) == 1  # the server's copy is the only one
    finally:
        second.terminate()
        second.wait(20)
        store.dispose()
