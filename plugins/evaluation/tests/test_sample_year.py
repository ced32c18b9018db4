"""The reports against the known truth of a generated year: the sample year goes through the
hub's real intake and delivery under a simulated clock; every figure the reports show must be
what was fed, small numbers must stay hidden, and the files, charts and the PDF must carry the
same figures."""

from __future__ import annotations

import io
import zipfile
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sampled import ADMIN, ESSEN_ONLY, MIN_CELL, READ, YEAR, config

from hub.testing import Hub, LiveHub
from hub_evaluation.facts import age_band
from hub_evaluation.report import nearest_rank
from hub_evaluation.sample import feed

WINDOW = {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}


def get(live: LiveHub, path: str, token: str = READ, **params: Any) -> Any:
    with live.client(token) as c:
        r = c.get(path, params={**WINDOW, **params})
    assert r.status_code == 200, r.text
    return r


def shown_counts(cells: list[dict[str, Any]], measures: tuple[str, ...]) -> list[int]:
    return [c[m] for c in cells for m in measures if isinstance(c.get(m), int)]


def test_the_year_is_realistic_in_shape(year) -> None:
    _, truth = year
    per_channel = Counter()
    for (channel, *_), n in truth.cases.items():
        per_channel[channel] += n
    assert per_channel["buergermobil"] > per_channel["popup"] > 0
    assert per_channel["portal"] > 0 and per_channel["koffer"] > 0 and truth.total > 300
    assert len(truth.stops) == 9  # 4 Bürgermobil stops, 3 pop-ups, the koffer, home visits


def test_cases_per_month_and_channel_are_the_truth_small_ones_hidden(year) -> None:
    live, truth = year
    found = get(live, "/v1/reports/cases", period="month", by="channel").json()
    expected: Counter[tuple[str, str]] = Counter()
    for (channel, _leika, _ars, _einsatz, day), n in truth.cases.items():
        expected[(day[:7], channel)] += n
    hidden = 0
    for cell in found["cells"]:
        n = expected[(cell["period"], cell["channel"])]
        if cell["suppressed"]:
            hidden += 1
            assert cell["cases"] is None and cell["delivered"] is None
        else:
            assert cell["cases"] == n, cell
    assert hidden > 0, "a small year has small cells: suppression must have been exercised"
    assert {(c["period"], c["channel"]) for c in found["cells"]} == set(expected)
    per_month = Counter()
    for (month, _), n in expected.items():
        per_month[month] += n
    assert found["totals"] == dict(per_month)


def test_no_small_number_ever_leaves_and_no_hidden_cell_stands_alone(year) -> None:
    live, _ = year
    for path, by, measures in (
        ("/v1/reports/cases", "channel,leika", ("cases",)),
        ("/v1/reports/cases", "einsatz", ("cases",)),
        ("/v1/reports/cases", "age_band", ("cases",)),
        ("/v1/reports/appointments", "office", ("booked", "attended", "no_show", "cancelled",
                                                "walk_in")),
    ):  # fmt: skip
        for period in ("week", "month", "year"):
            found = get(live, path, period=period, by=by).json()
            small = [c for c in found["cells"] if 0 < min(shown_counts([c], measures) or [9]) < 5]
            assert not small, (path, by, period, small[:3])
            per_period = defaultdict(list)
            for cell in found["cells"]:
                per_period[cell["period"]].append(cell)
            for p, cells in per_period.items():
                hidden = [c for c in cells if c["suppressed"]]
                total = found["totals"][p]
                # One hidden cell beside a shown total would be the total minus the rest.
                assert len(hidden) != 1 or total is None, (path, by, p)


def test_cases_per_einsatz_end_to_end_and_age_bands(year) -> None:
    live, truth = year
    per_einsatz, e2e = Counter(), Counter()
    for (_c, _l, _a, einsatz, _d), n in truth.cases.items():
        per_einsatz[einsatz] += n
    electronic = truth.end_to_end()
    for rid, einsatz in truth.einsatz_of.items():
        e2e[einsatz] += rid in electronic
    found = get(live, "/v1/reports/cases", period="year", by="einsatz").json()
    for cell in found["cells"]:
        if not cell["suppressed"]:
            assert cell["cases"] == per_einsatz[cell["einsatz"]]
            assert cell["end_to_end"] == e2e[cell["einsatz"]]
            assert cell["delivered"] == cell["cases"]  # the file adapter takes everything
    bands = Counter(age_band(born, truth.day_of[rid]) for rid, born in truth.ages.items())
    found = get(live, "/v1/reports/cases", period="year", by="age_band").json()
    assert {c["age_band"] for c in found["cells"]} == set(bands)
    for cell in found["cells"]:
        if not cell["suppressed"]:
            assert cell["cases"] == bands[cell["age_band"]]


def test_times_to_delivery_and_to_the_final_status_are_the_truths_percentiles(year) -> None:
    live, truth = year
    for until, minutes in (("delivered", truth.delivered_minutes),
                           ("final", truth.final_minutes)):  # fmt: skip
        per_channel = defaultdict(list)
        for rid, m in minutes.items():
            per_channel[truth.channel_of[rid]].append(m)
        found = get(live, "/v1/reports/delivery-times", period="year", by="channel",
                    until=until).json()  # fmt: skip
        assert found["until"] == until
        for cell in found["cells"]:
            values = sorted(per_channel[cell["channel"]])
            if len(values) < MIN_CELL:
                assert cell["median_minutes"] is None and cell["cases"] is None
                continue
            assert cell["cases"] == len(values)
            assert cell["median_minutes"] == pytest.approx(round(nearest_rank(values, 0.5), 1))
            assert cell["p90_minutes"] == pytest.approx(round(nearest_rank(values, 0.9), 1))


def test_appointments_utilisation_and_offered_slots_are_the_truth(year) -> None:
    live, truth = year
    found = get(live, "/v1/reports/appointments", period="year", by="office").json()
    cells = {c["office"]: c for c in found["cells"]}
    assert set(cells) == set(truth.offered)
    checked = 0
    for office, cell in cells.items():
        assert cell["offered"] == truth.offered[office]
        if cell["suppressed"]:
            continue
        if cell["booked"] is not None:
            assert cell["booked"] == truth.booked[office]
        for status in ("attended", "no_show", "cancelled", "walk_in"):
            if cell[status] is not None:
                assert cell[status] == truth.appointments[(office, status)], (office, status)
                checked += 1
        if cell["utilisation"] is not None:
            held = truth.booked[office] - truth.appointments[(office, "cancelled")]
            assert cell["utilisation"] == pytest.approx(round(held / truth.offered[office], 3))
    assert checked > 0


def test_a_municipality_sees_only_its_own(year) -> None:
    live, truth = year
    found = get(live, "/v1/reports/cases", ESSEN_ONLY, period="year", by="ars").json()
    assert {c["ars"] for c in found["cells"]} == {"051130000000"}
    essen = sum(n for (_c, _l, ars, _e, _d), n in truth.cases.items() if ars == "051130000000")
    assert found["cells"][0]["cases"] == essen
    offices = get(live, "/v1/reports/appointments", ESSEN_ONLY, period="year").json()["cells"]
    essen_stops = {f"mobile_office:{s.einsatz_id}" for s in truth.stops if s.ars == "051130000000"}
    assert {c["office"] for c in offices} == essen_stops


def test_xlsx_and_ods_carry_the_figures_of_the_csv(year) -> None:
    import csv

    from openpyxl import load_workbook

    live, _ = year
    params = {"period": "year", "by": "channel"}
    text = get(live, "/v1/reports/cases", format="csv", **params).text
    rows = list(csv.reader(io.StringIO(text)))
    xlsx = get(live, "/v1/reports/cases", format="xlsx", **params)
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = [
        ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
    ]
    assert cells == rows
    ods = get(live, "/v1/reports/cases", format="ods", **params)
    with zipfile.ZipFile(io.BytesIO(ods.content)) as z:
        assert z.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        content = etree.fromstring(z.read("content.xml"), etree.XMLParser(resolve_entities=False))
    ns = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0"}
    value = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}value"

    def shown(cell: Any) -> str:  # a number is in office:value, text in the paragraph
        number = cell.get(value)
        return str(int(float(number))) if number is not None else "".join(cell.itertext())

    ods_rows = [
        [shown(cell) for cell in row.findall("table:table-cell", ns)]
        for row in content.iterfind(".//table:table-row", ns)
    ]
    assert [r[: len(rows[0])] for r in ods_rows] == rows


def test_charts_show_only_what_the_report_shows(year) -> None:
    live, truth = year
    svg = get(live, "/v1/reports/charts/cases-by-channel.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content and b"portal" in svg.content and b"buergermobil" in svg.content
    png = get(live, "/v1/reports/charts/places.png")
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 5000
    places = get(live, "/v1/reports/charts/places.svg").text
    for stop in truth.stops:
        assert stop.place.split(" (")[0] in places
    with live.client(READ) as c:
        assert c.get("/v1/reports/charts/pie.svg").status_code == 400
        assert c.get("/v1/reports/charts/places.gif").status_code == 400


def test_the_one_year_pdf_has_the_councils_figures(year) -> None:
    from pypdf import PdfReader

    live, truth = year
    r = get(live, "/v1/reports/evaluation.pdf")
    assert r.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    flat = " ".join(text.split())
    assert "Evaluation der mobilen Bürgerdienste nach einem Jahr" in flat
    on_site = sum(n for (_c, _l, _a, einsatz, _d), n in truth.cases.items() if einsatz)
    total = f"{on_site:,}".replace(",", "\u202f")
    assert f"{len(truth.stops)} Einsätze, {total} Fälle" in flat, flat[:400]
    for heading in ("Einsätze", "Termine", "Fälle je Monat", "Dienstleistungen", "Altersgruppen",
                    "OZG-Themenfelder", "Mobilität & Reisen", "Methode und Datenschutz",
                    "Medienbruchfrei"):  # fmt: skip
        assert heading in flat, heading
    assert "Beispiel" not in text  # the invented applicants' name never appears


def test_cost_per_case_from_cost_inputs(year) -> None:
    live, truth = year
    stop = next(s for s in truth.stops if s.kind == "buergermobil")
    served = sum(n for (_c, _l, _a, e, _d), n in truth.cases.items() if e == stop.einsatz_id)
    assert served >= MIN_CELL
    entry = {"first_day": f"{YEAR}-01-01", "last_day": f"{YEAR}-12-31", "ars": stop.ars,
             "einsatz_id": stop.einsatz_id, "staff_hours": 100, "hourly_rate_eur": 40,
             "travel_eur": 1000, "kit_eur": 500}  # fmt: skip
    with live.client(ADMIN) as c:
        made = c.post("/v1/reports/costs", json=entry)
        both = c.post("/v1/reports/costs", json={**entry, "channel": "portal"})
        theirs = c.post("/v1/reports/costs", json={**entry, "ars": "051110000000"})
        bad = c.post("/v1/reports/costs", json={**entry, "staff_hours": -1})
    with live.client(READ) as c:
        refused = c.post("/v1/reports/costs", json=entry)
    assert made.status_code == 201, made.text
    assert both.status_code == 400 and "either einsatz_id or channel" in both.text
    assert theirs.status_code == 403 and theirs.json()["errors"][0]["field"] == "ars"
    assert bad.status_code == 400 and "staff_hours" in bad.text
    assert refused.status_code == 403
    lines = get(live, "/v1/reports/costs", ADMIN).json()["lines"]
    line = next(x for x in lines if x.get("einsatz") == stop.einsatz_id)
    assert line["cost_eur"] == 5500 and line["cases"] == served
    assert line["cost_per_case_eur"] == round(5500 / served, 2)
    half = get(live, "/v1/reports/costs", ADMIN, **{"from": f"{YEAR}-01-01",
                                                      "to": f"{YEAR}-07-01"}).json()  # fmt: skip
    part = next(x for x in half["lines"] if x.get("einsatz") == stop.einsatz_id)
    assert part["cost_eur"] == round(5500 * 182 / 365, 2)  # 1 Jan – 1 Jul: 182 of 365 days


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/reports/appointments", {"by": "age_band"}, "by"),
        ("/v1/reports/delivery-times", {"until": "someday"}, "query.until"),
        ("/v1/reports/evaluation.pdf", {"from": "2025-12-01", "to": "2025-01-01"}, "to"),
        ("/v1/reports/costs", {"to": "2030-01-01", "from": "2020-01-01"}, "to"),
    ],
)
def test_bad_requests_name_the_field(year, path, params, field) -> None:
    live, _ = year
    with live.client(READ) as c:
        r = c.get(path, params=params)
    assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == field


def test_the_sample_year_on_postgresql_gives_the_same_truth(tmp_path: Path) -> None:
    from hub.testing import postgres_schema
    from hub_evaluation.report import cases_report

    with postgres_schema("sampleyear") as url:
        h = Hub(config(url, tmp_path / "out"))
        h.start(intake_thread=False)
        try:
            truth = feed(h, year=YEAR, seed=3, scale=0.01, portal_per_day=3)
            cells, totals = cases_report(
                h.store, period="year", by=["channel"], first=date(YEAR, 1, 1),
                last=date(YEAR, 12, 31), ars_patterns=["*"], threshold=1,
            )  # fmt: skip
        finally:
            h.close()
    per_channel = Counter()
    for (channel, *_), n in truth.cases.items():
        per_channel[channel] += n
    assert {c.keys[0]: c.cases for c in cells} == dict(per_channel)
    assert totals == {str(YEAR): truth.total}


def run_cli(config_file: Path, *args: str) -> Any:
    from click.testing import CliRunner

    from hub.testing import CliState, PluginManager, build_cli

    pm = PluginManager()
    return CliRunner().invoke(
        build_cli(pm), ["--config", str(config_file), *args], obj=CliState(None, pm)
    )


def test_the_command_line_writes_files_enters_costs_and_makes_the_pdf(year, tmp_path) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    live, truth = year
    config_file = tmp_path / "cli.toml"
    config_file.write_text(
        f'[store]\nurl = "{live.hub.config.store.url}"\n'
        f'[attachments]\ndirectory = "{tmp_path}/att"\n[plugins.evaluation]\nmin_cell = 5\n'
    )
    sheet = tmp_path / "appointments.xlsx"
    made = run_cli(config_file, "report", "appointments", "--period", "year", "--by", "office",
                   "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-12-31", "--format", "xlsx",
                   "-o", str(sheet))  # fmt: skip
    assert made.exit_code == 0, made.output
    rows = list(load_workbook(sheet).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("period", "office", "booked")
    offered = {r[1]: r[7] for r in rows[1:] if r[1] != "TOTAL"}
    assert offered == dict(truth.offered)
    stop = next(s for s in truth.stops if s.kind == "home_visit")
    entered = run_cli(config_file, "report", "cost", "--from", f"{YEAR}-01-01", "--to",
                      f"{YEAR}-12-31", "--ars", stop.ars, "--einsatz", stop.einsatz_id,
                      "--travel", "2400")  # fmt: skip
    assert entered.exit_code == 0, entered.output
    both = run_cli(config_file, "report", "cost", "--from", f"{YEAR}-01-01", "--to",
                   f"{YEAR}-12-31", "--ars", stop.ars)  # fmt: skip
    assert both.exit_code != 0 and "either einsatz_id or channel" in both.output
    pdf = tmp_path / "evaluation.pdf"
    done = run_cli(config_file, "report", "evaluation", "--einsatz", stop.einsatz_id,
                   "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-12-31", "-o", str(pdf))  # fmt: skip
    assert done.exit_code == 0, done.output
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(pdf).pages).split())
    assert stop.name in text and "1 Einsatz," in text
    assert "2 400,00 €" in text.replace("\u202f", " ")  # the travel cost entered above
    bad = run_cli(config_file, "report", "cases", "--by", "postcode")
    assert bad.exit_code != 0 and "by" in bad.output


def test_the_sample_year_command_feeds_a_store(tmp_path) -> None:
    config_file = tmp_path / "sample.toml"
    config_file.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path}/s.db"\n[attachments]\ndirectory = "{tmp_path}/a"\n'
        '[[clients]]\nname = "dev"\ntoken_sha256 = "' + "0" * 64 + '"\n'
        'scopes = ["records:write", "records:read"]\nmunicipalities = ["*"]\n'
        f'[[routes]]\nadapters = ["file"]\n[adapters.file]\ndirectory = "{tmp_path}/out"\n'
        "[plugins.evaluation]\n"
    )
    fed = run_cli(config_file, "report", "sample-year", "--year", "2024", "--scale", "0.01")
    assert fed.exit_code == 0, fed.output
    line = fed.output.strip().splitlines()[-1]
    assert line.endswith("9 Einsätze in 2024")
    total = int(line.split()[0])
    counted = run_cli(config_file, "report", "cases", "--period", "year", "--by", "channel",
                      "--from", "2024-01-01", "--to", "2024-12-31")  # fmt: skip
    rows = [r.split(",") for r in counted.output.strip().splitlines() if r.startswith("2024,")]
    assert [r[2] for r in rows if r[1] == "TOTAL"] == [str(total)]
    assert len(list((tmp_path / "out").glob("*.json"))) == total  # delivered, each of them
    unconfigured = tmp_path / "plain.toml"
    unconfigured.write_text(config_file.read_text().replace("[plugins.evaluation]\n", ""))
    refused = run_cli(unconfigured, "report", "sample-year", "--scale", "0.01")
    assert refused.exit_code != 0 and "[plugins.evaluation] is not configured" in refused.output


def test_cases_per_ozg_topic_from_the_catalogue(year) -> None:
    """The ozg_catalog plugin's built-in catalogue gives each service its OZG-Leistung and
    Themenfeld at intake; the report groups by them."""
    live, truth = year
    topic = {
        "99115005104000": ("10124", "Bauen & Wohnen"),  # Wohnsitz Anmeldung
        "99115003012000": ("10559", "Querschnitt"),  # Meldebestätigung
        "99008001012000": ("10119", "Querschnitt"),  # Personalausweis
        "99085001012000": ("10177", "Mobilität & Reisen"),  # Reisepass
    }
    per_topic, per_ozg = Counter(), Counter()
    for (_c, leika, _a, _e, _d), n in truth.cases.items():
        per_ozg[topic[leika][0]] += n
        per_topic[topic[leika][1]] += n
    found = get(live, "/v1/reports/cases", period="year", by="ozg_topic").json()
    assert {c["ozg_topic"]: c["cases"] for c in found["cells"]} == dict(per_topic)
    found = get(live, "/v1/reports/cases", period="year", by="ozg").json()
    assert {c["ozg"]: c["cases"] for c in found["cells"]} == dict(per_ozg)
