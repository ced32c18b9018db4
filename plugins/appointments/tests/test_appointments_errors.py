"""Bad input names field and rule and changes nothing; the booking system's outages are 503
with Retry-After; staff book and cancel by API and CLI; an online booking carries the
citizen's trust level; an appointment knows its record."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import hub
from hub.testing import CliState, LiveHub, PluginManager, build_cli, sample_submission
from hub_appointments import tables

AUSWEIS, PASS = "99102013104000", "99102012104000"


def count(live: LiveHub) -> int:
    with live.hub.store.reading() as conn:
        return conn.execute(select(func.count()).select_from(tables.appointments)).scalar_one()


def slots(c, office: str, leika: str) -> list[str]:
    today = date.today()
    return c.get(
        "/v1/appointments/slots",
        params={
            "office": office,
            "service": leika,
            "from": today.isoformat(),
            "to": (today + timedelta(days=20)).isoformat(),
        },
    ).json()["slots"]


@pytest.mark.parametrize(
    ("body", "status", "field", "rule"),
    [
        ({"office": "99", "services": [{"leika": AUSWEIS}]}, 404, "office", "unknown"),
        (
            {"office": "30", "services": [{"leika": PASS}]},
            422,
            "services[0].leika",
            "not_offered_here",
        ),
        (
            {"office": "10", "services": [{"leika": "99999999999999"}]},
            422,
            "services[0].leika",
            "not_bookable",
        ),
        (
            {
                "office": "10",
                "services": [{"leika": AUSWEIS}],
                "start": "2020-01-01T09:00:00+01:00",
            },
            422,
            "start",
            "past",
        ),
        (
            {"office": "10", "services": [{"leika": AUSWEIS}], "start": "2030-01-07T09:00:00"},
            422,
            "start",
            "timezone",
        ),
        ({"office": "10", "services": []}, 400, "body.services", "too_short"),
    ],
)
def test_bad_reservations_are_refused_naming_field_and_rule(
    booking, token, body, status, field, rule
) -> None:
    with booking.client(token) as c:
        start = slots(c, "10", AUSWEIS)[0]
        r = c.post("/v1/appointments", json={"start": start, **body})
    assert r.status_code == status, r.text
    problem = r.json()["errors"][0]
    assert (problem["field"], problem["rule"]) == (field, rule)
    assert count(booking) == 0


def test_bad_queries_and_confirmations(booking, token) -> None:
    with booking.client(token) as c:
        r = c.get(
            "/v1/appointments/slots",
            params={"office": "10", "service": AUSWEIS, "from": "2030-02-01", "to": "2030-01-01"},
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"
        made = c.post(
            "/v1/appointments",
            json={
                "office": "10",
                "services": [{"leika": AUSWEIS}],
                "start": slots(c, "10", AUSWEIS)[0],
            },
        ).json()
        r = c.post(f"/v1/appointments/{made['id']}/confirm", json={"family_name": "Mustermann"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"
        r = c.post(
            f"/v1/appointments/{made['id']}/confirm",
            json={"family_name": "M", "email": "not an address"},
        )
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body.email"
        assert c.get(f"/v1/appointments/{made['id']}").json()["status"] == "reserved"
        assert c.get("/v1/appointments/no-such-id").status_code == 404


def test_outages_and_rate_limits_are_503_with_retry_after(booking, token, zms) -> None:
    with booking.client(token) as c:
        zms.maintenance = True
        r = c.get(
            "/v1/appointments/slots",
            params={
                "office": "10",
                "service": AUSWEIS,
                "from": date.today().isoformat(),
                "to": date.today().isoformat(),
            },
        )
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        zms.maintenance = False
        zms.rate_limit = 0
        r = c.get(
            "/v1/appointments/slots",
            params={
                "office": "10",
                "service": AUSWEIS,
                "from": date.today().isoformat(),
                "to": date.today().isoformat(),
            },
        )
        assert r.status_code == 503 and 1 <= int(r.headers["retry-after"]) <= 61
        assert "X-RateLimit" not in r.text  # our answer, not the booking system's


def test_staff_book_for_a_caller_on_the_command_line_and_cancel(
    booking, token, zms, tmp_path
) -> None:
    with booking.client(token) as c:
        start = slots(c, "10", PASS)[0]
    config = tmp_path / "cli.toml"  # the same database and booking system as the live hub
    config.write_text(
        f'[store]\nurl = "{booking.hub.config.store.url}"\n'
        f'[attachments]\ndirectory = "{tmp_path}/att"\n'
        f'[plugins.appointments]\nurl = "{zms.url}"\n'
        '[plugins.appointments.offices]\n"10" = {ars = "051110000000"}\n'
        f'[plugins.appointments.services]\n"2" = "{PASS}"\n'
    )
    pm = PluginManager()
    cli = build_cli(pm)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, ["--config", str(config), *args], obj=CliState(None, pm))

    out = run(
        "appointments",
        "book",
        "10",
        start,
        PASS,
        "--family-name",
        "Mustermann",
        "--telephone",
        "+49 211 1234",
    )
    assert out.exit_code == 0, out.output
    appointment_id, status_, _ = out.output.strip().splitlines()[-1].split()
    assert status_ == "confirmed"
    with booking.client(token) as c:
        shown = c.get(f"/v1/appointments/{appointment_id}").json()
        assert shown["channel"] == "classic"
        assert c.delete(f"/v1/appointments/{appointment_id}").json()["status"] == "cancelled"
    refused = run("appointments", "cancel", appointment_id)
    assert refused.exit_code != 0 and "cancelled" in refused.output
    bad = run(
        "appointments",
        "book",
        "10",
        "tomorrow",
        PASS,
        "--family-name",
        "X",
        "--email",
        "x@example.org",
    )
    assert bad.exit_code != 0 and "START" in bad.output


def test_an_online_booking_carries_the_citizens_trust_level(booking_with, token) -> None:
    """A citizen logged in (here a stand-in identity provider; BundID in production) books
    online: the appointment keeps the trust level. A clerk's classic booking does not."""

    class Provider:
        def identify(self, request):
            if request.headers.get("x-test-session") != "erika":
                return None
            return hub.IdentityClaim(hub.Identity(method="bundid", trust_level="substantiell"))

    class Session:
        @hub.hookimpl
        def register_identity_providers(self, register, hub):
            register("test_session", Provider())

    pm = PluginManager()
    pm.register(Session(), name="test_session")
    with booking_with(pm) as live, live.client(token) as c:
        session = {"x-test-session": "erika"}
        body = {"office": "10", "services": [{"leika": AUSWEIS}]}
        online = c.post(
            "/v1/appointments", headers=session, json={**body, "start": slots(c, "10", AUSWEIS)[0]}
        )
        anonymous = c.post("/v1/appointments", json={**body, "start": slots(c, "10", AUSWEIS)[0]})
        classic = c.post(
            "/v1/appointments",
            headers=session,
            json={**body, "start": slots(c, "10", AUSWEIS)[0], "channel": "classic"},
        )
    assert online.json()["trust_level"] == "substantiell"
    assert anonymous.json()["trust_level"] is None
    assert classic.json()["trust_level"] is None and classic.json()["channel"] == "classic"


def test_an_appointment_knows_its_record(booking, token) -> None:
    with booking.client(token) as c:
        rid = c.post("/v1/records", json=sample_submission()).json()["id"]
        start = slots(c, "10", AUSWEIS)[0]
        made = c.post(
            "/v1/appointments",
            json={
                "office": "10",
                "services": [{"leika": AUSWEIS}],
                "start": start,
                "record_id": rid,
            },
        ).json()
        assert made["record_id"] == rid
        other = c.post(
            "/v1/appointments",
            json={
                "office": "10",
                "services": [{"leika": AUSWEIS}],
                "start": slots(c, "10", AUSWEIS)[0],
            },
        ).json()
        r = c.put(f"/v1/appointments/{other['id']}/record", json={"record_id": rid})
        assert r.status_code == 200 and r.json()["record_id"] == rid
        r = c.put(f"/v1/appointments/{other['id']}/record", json={"record_id": "nope"})
        assert r.status_code == 404 and r.json()["errors"][0]["field"] == "record_id"


def test_the_record_learns_what_became_of_its_appointment(booking, token) -> None:
    from sqlalchemy import text

    with booking.client(token) as c:
        rid = c.post("/v1/records", json=sample_submission()).json()["id"]
        start = slots(c, "10", AUSWEIS)[0]
        made = c.post(
            "/v1/appointments",
            json={
                "office": "10",
                "services": [{"leika": AUSWEIS}],
                "start": start,
                "record_id": rid,
            },
        ).json()
        early = c.post(f"/v1/appointments/{made['id']}/attendance", json={"attended": True})
        assert early.status_code == 409  # not confirmed yet
        c.post(
            f"/v1/appointments/{made['id']}/confirm",
            json={"family_name": "Mustermann", "email": "erika@example.org"},
        )
        early = c.post(f"/v1/appointments/{made['id']}/attendance", json={"attended": True})
        assert early.status_code == 409 and early.json()["errors"][0]["rule"] == "not_yet"
        with booking.hub.store.transaction() as conn:  # as if the time had come
            conn.execute(
                text("UPDATE appointments SET start_at = :t WHERE id = :i"),
                {"t": datetime.now(UTC) - timedelta(minutes=5), "i": made["id"]},
            )
        came = c.post(f"/v1/appointments/{made['id']}/attendance", json={"attended": False})
        assert came.status_code == 200 and came.json()["status"] == "no_show"
        history = [h["status"] for h in c.get(f"/v1/records/{rid}").json()["history"]]
    assert history.count("appointment:booked") == 1 and "appointment:no_show" in history
