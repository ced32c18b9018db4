"""The Auswertung page of the staff console in a real browser, on the sample year: the
figures per Einsatz of the person's municipalities only, the charts load, the one-click PDF
arrives, bad dates are named; every page passes axe-core."""

from __future__ import annotations

from collections import Counter

import pytest
from playwright.sync_api import Page, expect
from sampled import YEAR

from hub.testing import add_staff, assert_accessible, console_sign_in

PASSWORD = "Zahlen für den Rat 2025"


@pytest.fixture
def page(console_page: Page) -> Page:
    return console_page


def test_the_evaluation_page_shows_the_year_of_ones_own_municipalities(year, page) -> None:
    live, truth = year
    add_staff(live, "auswertung-essen", PASSWORD, roles=["reporting"], municipalities=["05113*"])
    console_sign_in(page, live.url, "auswertung-essen", PASSWORD)
    page.get_by_role("link", name="Auswertung").click()
    page.get_by_label("von").fill(f"{YEAR}-01-01")
    page.get_by_label("bis").fill(f"{YEAR}-12-31")
    page.get_by_role("button", name="Anzeigen").click()
    table = page.get_by_role("table", name="Einsätze")
    essen = [s for s in truth.stops if s.ars == "051130000000"]
    for stop in essen:
        expect(table).to_contain_text(stop.name)
    expect(table).not_to_contain_text("Pop-up-Bürgerbüro")  # Düsseldorf's, not hers
    bm = next(s for s in essen if s.kind == "buergermobil")
    cases = sum(n for (_c, _l, _a, e, _d), n in truth.cases.items() if e == bm.einsatz_id)
    row = table.get_by_role("row").filter(has_text=bm.name)
    expect(row.get_by_role("cell").nth(3)).to_have_text(str(cases))
    page.wait_for_load_state("load")
    for image in page.get_by_role("img").all():
        answer = page.request.get(live.url + image.get_attribute("src"))
        assert answer.ok and answer.headers["content-type"] == "image/svg+xml", answer.text()
        assert image.evaluate("i => i.complete && i.naturalWidth > 0"), image.get_attribute("src")
        assert image.get_attribute("alt")
    months = page.get_by_role("table", name="Fälle je Monat (alle Kanäle)")
    per_month = Counter()
    for (_c, _l, ars, _e, day), n in truth.cases.items():
        per_month[day[:7]] += n if ars == "051130000000" else 0
    may = months.get_by_role("row").filter(has_text=f"{YEAR}-05")
    expect(may.get_by_role("cell").nth(1)).to_have_text(str(per_month[f"{YEAR}-05"]))
    # The last Bürgermobil stop: the shared year's other tests enter costs for the first one
    # and for the home visits, whichever runs first.
    untouched = [s for s in essen if s.kind == "buergermobil"][-1]
    no_costs = table.get_by_role("row").filter(has_text=untouched.name)
    expect(no_costs.get_by_role("cell").nth(9)).to_have_text("–")
    assert_accessible(page, "evaluation/01-year")
    sheet = page.get_by_role("link", name="XLSX (Fälle je Monat, Kanal und Leistung als Datei)")
    answer = page.request.get(live.url + sheet.get_attribute("href"))
    assert answer.ok and answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert answer.body()[:2] == b"PK"  # a zip: the XLSX container
    with page.expect_download() as download:
        page.get_by_role("link", name="Evaluation nach einem Jahr (PDF)").click()
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF-")
    from io import BytesIO

    from pypdf import PdfReader

    text = " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages).split())
    assert bm.name in text and "Pop-up-Bürgerbüro" not in text
    page.goto(f"{live.url}/console/evaluation/?from={YEAR}-12-31&to={YEAR}-01-01")
    expect(page.get_by_role("alert")).to_contain_text("to: must not be before from")
    assert_accessible(page, "evaluation/02-bad-window")
