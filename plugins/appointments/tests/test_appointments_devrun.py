"""`make run`'s configuration as a real process: the embedded ZMS double answers, a citizen
books a pop-up slot end to end."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import httpx

HEADERS = {"Authorization": "Bearer dev-token-not-for-production"}


def test_dev_config_books_an_appointment(tmp_path: Path, dev_hub) -> None:
    with (
        dev_hub(tmp_path),
        httpx.Client(base_url="http://127.0.0.1:8080", headers=HEADERS, timeout=10) as c,
    ):
        offices = {o["id"]: o for o in c.get("/v1/appointments/offices").json()["items"]}
        assert offices["20"]["name"].startswith("Pop-up")
        today = date.today()
        free = c.get(
            "/v1/appointments/slots",
            params={
                "office": "20",
                "service": "99102013104000",
                "from": today.isoformat(),
                "to": (today + timedelta(days=20)).isoformat(),
            },
        ).json()["slots"]
        made = c.post(
            "/v1/appointments",
            json={"office": "20", "services": [{"leika": "99102013104000"}], "start": free[0]},
        ).json()
        done = c.post(
            f"/v1/appointments/{made['id']}/confirm",
            json={"family_name": "Mustermann", "email": "erika@example.org"},
        ).json()
        assert done["status"] == "confirmed"
        mails = httpx.get("http://127.0.0.1:8093/mails/").json()["items"]
        assert [m["kind"] for m in mails] == ["activation", "confirmation"]
