"""Planning Einsätze over HTTP and the command line, and publishing them as iCal and GeoJSON."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from icalendar import Calendar
from sqlalchemy import func, select

from hub.testing import CliState, LiveHub, PluginManager, build_cli
from hub_mobile_office import tables

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mobile-office-2027.json"
ANMELDUNG = "99115005104000"


def count(live: LiveHub) -> int:
    with live.hub.store.reading() as conn:
        return conn.execute(select(func.count()).select_from(tables.einsaetze)).scalar_one()


def test_first_and_third_thursday_is_planned_and_listed(office, token, plan) -> None:
    with office.client(token) as c:
        r = c.post("/v1/mobile-office/einsaetze", json=plan)
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["days"][:4] == ["2027-01-07", "2027-01-21", "2027-02-04", "2027-02-18"]
        assert len(made["days"]) == 24 and made["days"][-1] == "2027-12-16"
        listed = c.get(
            "/v1/mobile-office/einsaetze", params={"from": "2027-01-01", "days": 31, "ars": "05316"}
        ).json()["items"]
    assert [i["start"] for i in listed] == [
        "2027-01-07T12:00:00+01:00",
        "2027-01-21T12:00:00+01:00",
    ]
    assert listed[0]["devices"] == ["koffer-lev-01"]  # planners see devices and staff


@pytest.mark.parametrize(
    ("change", "status", "field", "rule"),
    [
        ({"capabilities": ["camera"]}, 422, "services[0]", "capability_missing"),
        ({"services": [ANMELDUNG]}, 422, "services[0]", "capability_missing"),
        ({"rrule": "FREQ=MONTHLY;BYDAY=1TH,3TH"}, 422, "rrule", "unbounded"),
        ({"rrule": "FREQ=SOMETIMES;UNTIL=20271231"}, 422, "rrule", "rfc5545"),
        ({"hours": {"start": "16:00", "end": "12:00"}}, 422, "hours", "value_error"),
        (
            {"place": {"name": "x", "address": "y", "lat": 91, "lon": 0, "ars": "053160000000"}},
            422,
            "place.lat",
            "less_than_equal",
        ),
    ],
)
def test_a_bad_plan_names_field_and_rule_and_stores_nothing(
    office, token, plan, change, status, field, rule
) -> None:
    with office.client(token) as c:
        r = c.post("/v1/mobile-office/einsaetze", json={**plan, **change})
    assert r.status_code == status, r.text
    problem = r.json()["errors"][0]
    assert (problem["field"], problem["rule"]) == (field, rule)
    assert count(office) == 0


def test_a_koffer_cannot_be_in_two_places_at_once(office, token, plan) -> None:
    other = copy.deepcopy(plan)
    other["name"] = "Pop-up im Rathaus Opladen"
    other["kind"] = "popup"
    other["rrule"] = None
    other["start"] = "2027-01-21"  # a third Thursday
    other["hours"] = {"start": "15:00", "end": "18:00"}  # overlaps 12–16
    with office.client(token) as c:
        assert c.post("/v1/mobile-office/einsaetze", json=plan).status_code == 201
        r = c.post("/v1/mobile-office/einsaetze", json=other)
        assert r.status_code == 409
        problem = r.json()["errors"][0]
        assert (problem["field"], problem["rule"]) == ("devices[0]", "device_busy")
        assert "2027-01-21" in problem["message"]
        other["hours"] = {"start": "16:00", "end": "18:00"}  # after the bank: fine
        assert c.post("/v1/mobile-office/einsaetze", json=other).status_code == 201
    assert count(office) == 2


def test_feeds_are_public_and_hold_nothing_personal(office, token, plan) -> None:
    with office.client(token) as c:
        einsatz = c.post("/v1/mobile-office/einsaetze", json=plan).json()
    feed = httpx.get(f"{office.url}/v1/mobile-office/05316.ics", params={"days": 400})
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(feed.content).walk("VEVENT")
    coming = [d for d in einsatz["days"] if d >= date.today().isoformat()]
    assert len(events) == len(coming) > 0
    first = events[0]
    assert str(first["summary"]) == "Bürgerkoffer: Bürgerkoffer in der Sparkasse"
    assert first.decoded("dtstart").tzinfo is not None
    assert first.decoded("dtstart").hour == 12
    assert b"Frau Beispiel" not in feed.content and b"koffer-lev-01" not in feed.content
    geo = httpx.get(f"{office.url}/v1/mobile-office/05316.geojson", params={"days": 400}).json()
    [feature] = geo["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [7.0046, 51.0665]}
    assert feature["properties"]["name"] == "Sparkasse, Filiale Opladen"
    assert len(feature["properties"]["dates"]) == len(coming)
    assert "staff" not in json.dumps(geo)
    assert httpx.get(f"{office.url}/v1/mobile-office/05111.ics").status_code == 200
    # Cancelled: gone from the feed at once.
    with office.client(token) as c:
        r = c.post(
            f"/v1/mobile-office/einsaetze/{einsatz['id']}/cancel",
            json={"reason": "Filiale umgebaut"},
        )
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        again = c.post(
            f"/v1/mobile-office/einsaetze/{einsatz['id']}/cancel", json={"reason": "again"}
        )
        assert again.status_code == 409
    feed = httpx.get(f"{office.url}/v1/mobile-office/05316.ics", params={"days": 400})
    assert Calendar.from_ical(feed.content).walk("VEVENT") == []


def test_the_sample_year_plans_on_the_command_line(office) -> None:
    pm = PluginManager()
    config = Path(office.hub.config.attachments.directory).parent / "cli.toml"
    config.write_text(
        f'[store]\nurl = "{office.hub.config.store.url}"\n'
        f'[attachments]\ndirectory = "{office.hub.config.attachments.directory}"\n'
    )
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(
            build_cli(pm), ["--config", str(config), *args], obj=CliState(None, pm)
        )

    out = run("mobile-office", "create", str(EXAMPLE))
    assert out.exit_code == 0, out.output
    planned = [line for line in out.output.splitlines() if " day(s) " in line]
    assert len(planned) == 6
    assert count(office) == 6
    with_plans = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert {p["kind"] for p in with_plans} == {
        "popup",
        "koffer_partner",
        "buergermobil",
        "home_visit",
    }
    again = run("mobile-office", "create", str(EXAMPLE))  # the same devices, the same days
    assert again.exit_code != 0 and "device_busy" in again.output
    assert count(office) == 6  # all or none
    first_id = planned[0].split()[0]
    changed = {**with_plans[0], "hours": {"start": "11:00", "end": "15:00"}}
    new_plan = config.parent / "changed.json"
    new_plan.write_text(json.dumps(changed), encoding="utf-8")
    out = run("mobile-office", "change", first_id, str(new_plan))
    assert out.exit_code == 0, out.output
    assert f"{first_id}  planned" in out.output


def test_records_captured_on_the_road_carry_their_einsatz(office, token, plan) -> None:
    from hub.testing import sample_submission

    today = date.today()
    plan.update(
        kind="buergermobil",
        name="Bürgermobil heute",
        start=today.isoformat(),
        rrule=None,
        hours={"start": "00:00", "end": "23:59"},
        devices=["koffer-bus-07"],
    )
    with office.client(token) as c:
        einsatz = c.post("/v1/mobile-office/einsaetze", json=plan).json()

        def submit(**location):
            body = sample_submission(channel="buergermobil", location=location)
            return c.post("/v1/records", json=body)

        found = submit(device_id="koffer-bus-07")
        assert found.status_code == 202, found.text
        record = c.get(f"/v1/records/{found.json()['id']}").json()
        assert record["location"]["einsatz_id"] == einsatz["id"]
        elsewhere = c.get(f"/v1/records/{submit(device_id='other-device').json()['id']}").json()
        assert elsewhere["location"]["einsatz_id"] is None
        named = submit(device_id="x", einsatz_id=einsatz["id"])
        assert named.status_code == 202
        unknown = submit(device_id="x", einsatz_id="no-such-einsatz")
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "location.einsatz_id"
        portal = c.post("/v1/records", json=sample_submission(channel="portal"))
        shown = c.get(f"/v1/records/{portal.json()['id']}").json()
        assert shown["channel"] == "portal" and shown["location"]["einsatz_id"] is None


def test_installed_but_not_configured_it_leaves_records_alone(tmp_path, token) -> None:
    from hub.testing import hub_config, sample_submission

    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        token,
        plugins={"ozg_catalog": {"pvog_enabled": False}},
    )
    body = sample_submission(
        channel="buergermobil", location={"device_id": "x", "einsatz_id": "planned-elsewhere"}
    )
    with LiveHub(config) as live, live.client(token) as c:
        r = c.post("/v1/records", json=body)
        assert r.status_code == 202, r.text
        shown = c.get(f"/v1/records/{r.json()['id']}").json()
    assert shown["location"]["einsatz_id"] == "planned-elsewhere"


def test_a_plan_is_changed_under_the_same_rules(office, token, plan) -> None:
    other = copy.deepcopy(plan)
    other.update(
        kind="popup",
        name="Pop-up im Rathaus",
        rrule=None,
        start="2027-01-21",
        hours={"start": "16:00", "end": "18:00"},
    )
    with office.client(token) as c:
        first = c.post("/v1/mobile-office/einsaetze", json=plan).json()
        second = c.post("/v1/mobile-office/einsaetze", json=other).json()
        moved = {**other, "hours": {"start": "10:00", "end": "13:00"}}  # into the bank's hours
        r = c.put(f"/v1/mobile-office/einsaetze/{second['id']}", json=moved)
        assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "device_busy"
        assert c.get(f"/v1/mobile-office/einsaetze/{second['id']}").json()["hours"]["start"] == (
            "16:00"
        )  # unchanged
        later = {**plan, "hours": {"start": "12:00", "end": "15:00"}}  # never collides with itself
        r = c.put(f"/v1/mobile-office/einsaetze/{first['id']}", json=later)
        assert r.status_code == 200 and r.json()["hours"]["end"] == "15:00"
        c.post(f"/v1/mobile-office/einsaetze/{second['id']}/cancel", json={"reason": "x"})
        r = c.put(f"/v1/mobile-office/einsaetze/{second['id']}", json=other)
        assert r.status_code == 409 and r.json()["errors"][0]["rule"] == "cancelled"
        r = c.put("/v1/mobile-office/einsaetze/nope", json=other)
        assert r.status_code == 404


def test_the_feeds_say_what_to_bring_and_what_it_costs(tmp_path, plan) -> None:
    from hub.testing import hub_config

    plan.update(start=date.today().isoformat(), rrule=None)
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        "bring-token-0123456789",
        plugins={
            "ozg_catalog": {"pvog_enabled": False},
            "mobile_office": {
                "bring": {
                    "99102013104000": {
                        "name": "Personalausweis beantragen",
                        "documents": ["bisheriger Ausweis", "Geburtsurkunde bei Namensänderung"],
                        "fee": "wie im Bürgerbüro",
                    }
                }
            },
        },
    )
    with LiveHub(config) as live, live.client("bring-token-0123456789") as c:
        assert c.post("/v1/mobile-office/einsaetze", json=plan).status_code == 201
        feed = httpx.get(f"{live.url}/v1/mobile-office/05316.ics")
        geo = httpx.get(f"{live.url}/v1/mobile-office/05316.geojson").json()
    [event] = Calendar.from_ical(feed.content).walk("VEVENT")
    text_ = str(event["description"])
    assert "Personalausweis beantragen — mitbringen: bisheriger Ausweis" in text_
    assert "Gebühr: wie im Bürgerbüro" in text_
    assert "Leistung 99102012104000" in text_  # a service without wording keeps its key
    [day] = geo["features"][0]["properties"]["dates"]
    assert day["services"][0]["documents"][0] == "bisheriger Ausweis"
    assert day["services"][1] == {"leika": "99102012104000"}
