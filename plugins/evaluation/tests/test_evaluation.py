"""The cases report against known truth: records go in through the hub's real intake, the
report counts them per channel and service, suppresses small cells (and one more where only
one is hidden), scopes to the client's municipalities, and keeps its figures after the
records are deleted."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from hub.testing import (
    CliState,
    LiveHub,
    PluginManager,
    build_cli,
    hub_config,
    sample_submission,
    wait_until,
)
from hub_evaluation.facts import age_band
from hub_evaluation.report import period_of

TOKEN = "evaluation-test-token-01"
ANMELDUNG, AUSWEIS, PASS = "99115005104000", "99102013104000", "99102012104000"
# (channel, LeiKa, ARS) → how many records; Düsseldorf and Essen
TRUTH = {
    ("portal", ANMELDUNG, "051110000000"): 12,
    ("koffer", ANMELDUNG, "051110000000"): 7,
    ("popup", ANMELDUNG, "051110000000"): 3,  # small: suppressed
    ("buergermobil", ANMELDUNG, "051130000000"): 6,
    ("home_visit", ANMELDUNG, "051130000000"): 1,  # small: suppressed
}


@pytest.fixture
def reporting(tmp_path: Path) -> LiveHub:
    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}",
        tmp_path / "out",
        TOKEN,
        plugins={"ozg_catalog": {"pvog_enabled": False}, "evaluation": {}},
    )
    with LiveHub(config) as live:
        with live.client(TOKEN) as c:
            for (channel, leika, ars), n in TRUTH.items():
                for i in range(n):
                    data = sample_submission(
                        channel=channel,
                        service={"leika_key": leika},
                        municipality={"ars": ars},
                    )
                    data["applicant"]["date_of_birth"] = f"{1940 + 10 * (i % 5)}-06-15"
                    assert c.post("/v1/records", json=data).status_code == 202
        # the facts are written once intake has committed (the status hook): wait for them
        total = sum(TRUTH.values())
        assert wait_until(lambda: facts(live) == total == delivered(live), timeout=30)
        yield live


def facts(live: LiveHub) -> int:
    with live.hub.store.reading() as conn:
        return conn.execute(text("SELECT count(*) FROM evaluation_cases")).scalar_one()


def delivered(live: LiveHub) -> int:
    with live.hub.store.reading() as conn:
        query = "SELECT count(*) FROM evaluation_cases WHERE delivered_at IS NOT NULL"
        return conn.execute(text(query)).scalar_one()


def report(live: LiveHub, **params: str) -> dict:
    with live.client(TOKEN) as c:
        r = c.get("/v1/reports/cases", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_cases_per_channel_match_the_truth_with_small_cells_hidden(reporting) -> None:
    found = report(reporting, period="day", by="channel")
    cells = {c["channel"]: c for c in found["cells"]}
    assert cells["portal"]["cases"] == 12 and cells["koffer"]["cases"] == 7
    assert cells["buergermobil"]["cases"] == 6
    assert cells["popup"]["cases"] is None and cells["popup"]["suppressed"]
    assert cells["home_visit"]["cases"] is None
    assert found["totals"] == {date.today().isoformat(): sum(TRUTH.values())}


def test_the_total_does_not_single_out_a_hidden_cell(reporting) -> None:
    found = report(reporting, period="day", by="channel")
    shown = [c for c in found["cells"] if not c["suppressed"]]
    hidden = [c for c in found["cells"] if c["suppressed"]]
    assert {c["channel"] for c in hidden} == {"popup", "home_visit"}
    total = found["totals"][date.today().isoformat()]
    assert total - sum(c["cases"] for c in shown) == 4  # two hidden cells together: 3 + 1


def test_a_client_sees_only_its_municipalities(reporting, tmp_path: Path) -> None:
    import hashlib

    from hub.testing import config_from_dict

    data = reporting.hub.config.model_dump(mode="json")
    data["clients"].append(
        {
            "name": "essen",
            "token_sha256": hashlib.sha256(b"essen-token-0123456789").hexdigest(),
            "scopes": ["records:read"],
            "municipalities": ["05113*"],
        }
    )
    data["server"]["port"] = 0
    with LiveHub(config_from_dict(data)) as live, live.client("essen-token-0123456789") as c:
        found = c.get("/v1/reports/cases", params={"period": "day", "by": "channel"}).json()
    channels = {cell["channel"] for cell in found["cells"]}
    assert channels == {"buergermobil", "home_visit"}
    # 6 and 1 in one period: the 1 hidden, so the 6 too; the total 7 is shown
    assert all(cell["suppressed"] for cell in found["cells"])


def test_the_figures_survive_the_deletion_of_the_records(reporting) -> None:
    before = report(reporting, period="month", by="leika")
    with reporting.hub.store.transaction() as conn:
        conn.execute(text("DELETE FROM history"))
        conn.execute(text("DELETE FROM deliveries"))
        conn.execute(text("DELETE FROM records"))
    after = report(reporting, period="month", by="leika")
    assert after["cells"] == before["cells"] and after["cells"][0]["cases"] == 29


def test_csv_has_a_total_per_period_and_blank_hidden_numbers(reporting) -> None:
    with reporting.client(TOKEN) as c:
        r = c.get("/v1/reports/cases", params={"period": "year", "by": "channel", "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["period", "channel", "cases", "delivered", "final", "end_to_end",
                       "dead_lettered", "retries", "suppressed"]  # fmt: skip
    by_channel = {row[1]: row for row in rows[1:]}
    assert by_channel["portal"][2] == "12" and by_channel["popup"][2:8] == [""] * 6
    assert by_channel["TOTAL"][2] == "29"


def test_age_bands_are_kept_never_the_birth_date(reporting) -> None:
    # The generator's applicants were born on 15 June of 1940, 1950, …, 1980 in turn.
    band_of = {1940: "80+", 1950: "65-79", 1960: "65-79", 1970: "50-64", 1980: "30-49"}
    truth = Counter(band_of[1940 + 10 * (i % 5)] for n in TRUTH.values() for i in range(n))
    found = report(reporting, period="year", by="age_band")
    for cell in found["cells"]:
        if cell["suppressed"]:
            assert cell["cases"] is None
        else:
            assert cell["cases"] == truth[cell["age_band"]], cell
    assert {c["age_band"] for c in found["cells"]} == set(truth)
    with reporting.hub.store.reading() as conn:
        columns = [r[1] for r in conn.execute(text("PRAGMA table_info(evaluation_cases)"))]
    assert "age_band" in columns and not any("birth" in c for c in columns)
    assert age_band(date(1944, 6, 15), date(2026, 6, 14)) == "80+"
    assert age_band(date(1946, 6, 15), date(2026, 6, 14)) == "65-79"
    assert age_band(date(2010, 1, 1), date(2026, 1, 1)) == "0-17"
    assert age_band(None, date(2026, 1, 1)) is None


def test_installed_but_not_configured_it_keeps_nothing(tmp_path: Path) -> None:
    config = hub_config(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "out", TOKEN)
    with LiveHub(config) as live, live.client(TOKEN) as c:
        assert c.post("/v1/records", json=sample_submission()).status_code == 202
        assert c.get("/v1/reports/cases").status_code == 404
        assert wait_until(lambda: c.get("/v1/records").json()["items"][0]["status"] == "delivered")
        assert facts(live) == 0


def test_periods_are_calendar_days_iso_weeks_months_and_years() -> None:
    day = date(2027, 1, 1)  # a Friday in ISO week 53 of 2026
    assert [period_of(day, p) for p in ("day", "week", "month", "year")] == [
        "2027-01-01", "2026-W53", "2027-01", "2027",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"by": "channel,postcode"}, 422, "by"),
        ({"by": "channel,channel"}, 422, "by"),
        ({"from": "2026-12-01", "to": "2026-11-01"}, 422, "to"),
        ({"period": "decade"}, 400, "query.period"),
        ({"from": "gestern"}, 400, "query.from"),
    ],
)
def test_bad_report_requests_name_the_field(reporting, params, status, field) -> None:
    with reporting.client(TOKEN) as c:
        r = c.get("/v1/reports/cases", params=params)
    assert r.status_code == status and r.json()["errors"][0]["field"] == field


def test_the_report_on_the_command_line(reporting, tmp_path: Path) -> None:
    config = tmp_path / "cli.toml"
    config.write_text(
        f'[store]\nurl = "{reporting.hub.config.store.url}"\n'
        f'[attachments]\ndirectory = "{tmp_path}/att"\n[plugins.evaluation]\nmin_cell = 2\n'
    )
    pm = PluginManager()
    out = CliRunner().invoke(
        build_cli(pm),
        ["--config", str(config), "report", "cases", "--period", "day", "--by", "channel",
         "--ars", "05111*"],
        obj=CliState(None, pm),
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = [line.split(",") for line in out.output.strip().splitlines() if line.startswith("20")]
    counts = {row[1]: row[2] for row in rows}
    assert counts == {"koffer": "7", "popup": "3", "portal": "12", "TOTAL": "22"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_weeks_months_and_years_are_the_same_on_both_databases(tmp_path: Path, backend) -> None:
    """The database names the period where it can (PostgreSQL: ISO weeks too; SQLite: months
    and years, weeks from days); the figures must not depend on which."""
    from datetime import UTC, datetime

    from hub.testing import Hub, postgres_schema
    from hub_evaluation import tables
    from hub_evaluation.report import cases_report

    days = {
        date(2026, 12, 28): 6,
        date(2027, 1, 3): 5,
        date(2027, 1, 4): 7,
    }  # ISO 2026-W53, W53, 2027-W01

    def check(url: str) -> None:
        h = Hub(hub_config(url, tmp_path / "out", TOKEN, plugins={"evaluation": {}}))
        h.start(intake_thread=False)
        try:
            rows = [
                {"record_id": f"{d:%Y%m%d}-{i}", "day": d, "ars": "051110000000",
                 "channel": "portal", "leika": ANMELDUNG,
                 "received_at": datetime(d.year, d.month, d.day, 10, tzinfo=UTC)}
                for d, n in days.items() for i in range(n)
            ]  # fmt: skip
            with h.store.transaction() as conn:
                conn.execute(tables.cases.insert(), rows)

            def counts(period: str) -> dict[str, int]:
                cells, _ = cases_report(
                    h.store, period=period, by=["channel"], first=date(2026, 12, 1),
                    last=date(2027, 1, 31), ars_patterns=["*"], threshold=5,
                )  # fmt: skip
                return {c.period: c.cases for c in cells}

            assert counts("week") == {"2026-W53": 11, "2027-W01": 7}
            assert counts("month") == {"2026-12": 6, "2027-01": 12}
            assert counts("year") == {"2026": 6, "2027": 12}
            assert counts("day") == {"2026-12-28": 6, "2027-01-03": 5, "2027-01-04": 7}
        finally:
            h.close()

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        with postgres_schema("evaluation") as url:
            check(url)


def test_delivery_times_are_median_and_p90_of_known_durations(tmp_path: Path) -> None:
    """Ten portal cases delivered after 1 … 10 minutes: median 5, 90th percentile 9 (nearest
    rank); three koffer cases: too few to show times."""
    from datetime import UTC, datetime, timedelta

    config = hub_config(
        f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "out", TOKEN, plugins={"evaluation": {}}
    )
    with LiveHub(config) as live:
        from hub_evaluation import tables

        at = datetime(2026, 11, 2, 9, tzinfo=UTC)
        rows = [
            {"record_id": f"{channel}-{i}", "day": at.date(), "ars": "051110000000",
             "channel": channel, "leika": ANMELDUNG, "received_at": at,
             "delivered_at": at + timedelta(minutes=i)}
            for channel, n in (("portal", 10), ("koffer", 3)) for i in range(1, n + 1)
        ]  # fmt: skip
        rows.append({**rows[0], "record_id": "never", "delivered_at": None})
        with live.hub.store.transaction() as conn:
            conn.execute(tables.cases.insert(), rows)
        with live.client(TOKEN) as c:
            r = c.get(
                "/v1/reports/delivery-times",
                params={"period": "month", "by": "channel", "from": "2026-11-01",
                        "to": "2026-11-30"},
            )  # fmt: skip
            bad = c.get("/v1/reports/delivery-times", params={"by": "name"})
    assert r.status_code == 200, r.text
    cells = {cell["channel"]: cell for cell in r.json()["cells"]}
    assert cells["portal"] == {
        "period": "2026-11", "channel": "portal", "cases": 10,
        "median_minutes": 5.0, "p90_minutes": 9.0,
    }  # fmt: skip
    assert cells["koffer"]["median_minutes"] is None and cells["koffer"]["cases"] is None
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "by"


def test_a_moved_appointment_counts_as_booked_on_its_new_day(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import hub
    from hub.testing import Hub
    from hub_evaluation.report import appointments_report

    h = Hub(hub_config(f"sqlite:///{tmp_path / 'h.db'}", tmp_path / "o", TOKEN,
                       plugins={"evaluation": {}}))  # fmt: skip
    h.start(intake_thread=False)
    try:
        for n in range(5):
            first = datetime(2026, 3, 2, 9, n, tzinfo=UTC)
            args = ("zms", "10", "051110000000")
            h.appointment_changed(hub.AppointmentChange(f"a{n}", "booked", *args, first, "online"))
            moved = datetime(2026, 4, 6, 9, n, tzinfo=UTC)
            h.appointment_changed(hub.AppointmentChange(f"a{n}", "moved", *args, moved, "online"))
        cells, _ = appointments_report(
            h.store, period="month", by=["office"], first=date(2026, 3, 1),
            last=date(2026, 4, 30), ars_patterns=["*"], threshold=5,
        )  # fmt: skip
    finally:
        h.close()
    assert [(c.period, c.values["booked"]) for c in cells] == [("2026-04", 5)]
