"""Importing LeiKa CSV (both layouts), the ARS code list and XZuFi, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub_ozg_catalog.importers import (
    ImportProblem,
    Zustaendigkeit,
    read_leika_csv,
    read_regions,
    read_xzufi,
)
from hub_ozg_catalog.plugin import state


def test_builtin_services_without_any_import(hub_factory, store_url) -> None:
    cat = state(hub_factory(store_url)).catalogue
    assert cat.service("99115005104000")["name"] == "Wohnsitz Anmeldung"
    assert cat.service("99085003012000")["ozg_id"] == "10177"
    assert not cat.services_imported()
    assert [h.key for h in cat.search("Perso beantragen", 1)] == ["99008001012000"]


def test_kdn_csv_import_replaces_the_catalogue(hub_factory, store_url, leika_csv) -> None:
    cat = state(hub_factory(store_url)).catalogue
    layout, rows = read_leika_csv(leika_csv)
    assert layout == "kdn" and len(rows) == 4813
    assert cat.replace_services(rows, "kdn:test") == 4813
    assert cat.services_imported()
    svc = cat.describe("99115005104000")
    assert svc["ozg_id"] == "10124" and svc["lebenslage"] == "Wohnen & Umzug"
    assert svc["kind"] == "LOV" and svc["verrichtung_name"] == "Anmeldung"
    several = next(r for r in rows if r["typisierung"] and "," in r["typisierung"])
    assert len(cat.describe(several["leika_key"])["typisierung"]) == 2
    # Built-in extras that the 2019 extract lacks are gone: the import is the catalogue now.
    assert cat.service("99102013104000") is None


def test_official_layout_iso_8859_1(hub_factory, fixtures_dir) -> None:
    layout, rows = read_leika_csv(fixtures_dir / "leika_official.csv")
    assert layout == "leika"
    assert [r["leika_key"] for r in rows] == ["99115005104000", "99008001012000", "99102013104000"]
    cat = state(hub_factory()).catalogue
    cat.replace_services(rows, "leika:official")
    svc = cat.describe("99102013104000")
    assert svc["name2"] == "Hund zur Hundesteuer anmelden" and svc["synonyms"] == ["Hundemarke"]
    assert svc["typisierung"] == ["4b"]
    assert [h.key for h in cat.search("Hundemarke", 1)] == ["99102013104000"]


def test_unknown_layout_names_the_expected_columns(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("key,title\n99115005104000,Wohnsitz\n")
    with pytest.raises(ImportProblem, match="Schluessel;Bezeichnung") as info:
        read_leika_csv(bad)
    assert "leika_key,name,typisierung" in str(info.value)


def test_bad_key_in_csv_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text(
        "leika_key,name,typisierung\n99115005104000,Wohnsitz Anmeldung,2/3\n"
        "9911500510400,Kaputt,2/3\n"
    )
    with pytest.raises(ImportProblem, match=r"x.csv:3: .*9911500510400"):
        read_leika_csv(bad)


def test_failed_import_leaves_the_old_catalogue(hub_factory, store_url, fixtures_dir) -> None:
    cat = state(hub_factory(store_url)).catalogue
    _, rows = read_leika_csv(fixtures_dir / "leika_official.csv")
    cat.replace_services(rows, "first")
    broken = [*rows, {"leika_key": "99999", "name": "x"}]
    with pytest.raises(Exception, match="14 digits"):
        cat.replace_services(broken, "second")
    assert cat.snapshot().services_source == "first" and len(cat.snapshot().services) == 3


def test_regions_import(hub_factory, store_url, regions_json) -> None:
    cat = state(hub_factory(store_url)).catalogue
    rows = read_regions(regions_json)
    assert len(rows) == 11236 and sum(r["ars"].startswith("05") for r in rows) == 396
    cat.replace_regions(rows)
    assert cat.region("051110000000")["name"] == "Düsseldorf, Stadt"
    assert cat.region("055540000000")["kind"] == "kreis"  # derived from its Gemeinden
    assert cat.region("059990000000") is None
    assert cat.ars_for_ags("05554004") == "055540004004"


def test_bad_regions_file(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text(
        '{"spalten": [{"spaltennameTechnisch": "SCHLUESSEL"}, '
        '{"spaltennameTechnisch": "Bezeichnung"}], "daten": [["0511", "X"]]}'
    )
    with pytest.raises(ImportProblem, match="daten\\[0\\]: '0511' is not a 12-digit ARS"):
        read_regions(bad)


def test_xzufi_import_and_offline_lookup(hub_factory, store_url, fixtures_dir) -> None:
    # The XZuFi fixture is written from the documented structure: no public sample exists.
    version, items = read_xzufi(fixtures_dir / "xzufi_duesseldorf.xml")
    assert version == "2.2"
    assert {(z.leika_key, z.ars, z.role) for z in items} == {
        ("99115005104000", "051110000000", "01"),
        ("99008001012000", "051110000000", "01"),
        ("99036008007000", "055540000000", "01"),
        ("99036008007000", "055540000000", "03"),
    }
    st = state(hub_factory(store_url))
    st.catalogue.replace_authorities(items)
    result = st.resolver.resolve("99115005104000", "051110000000", remote=False)
    assert result.found and result.source == "offline"
    assert result.authority["name"] == "Bürgerbüro Düsseldorf-Mitte"
    assert result.authority["address"] == {
        "street": "Marktplatz 2",
        "postal_code": "40213",
        "city": "Düsseldorf",
    }
    assert result.authority["phone"] == "+49 211 89-91"
    # Ahaus has no entry of its own: the Kreis Borken's (role 01, not the Ansprechpunkt) applies.
    up = st.resolver.resolve("99036008007000", "055540004004", remote=False)
    assert up.found and up.level_ars == "055540000000"
    assert up.authority["name"] == "Kreis Borken - Straßenverkehrsamt"


def test_offline_lookup_follows_a_new_import(hub_factory, store_url, fixtures_dir) -> None:
    # Intake remembers each service and place's answer per catalogue version: the next import
    # (a new version) must be seen, not the remembered answer.
    _, items = read_xzufi(fixtures_dir / "xzufi_duesseldorf.xml")
    st = state(hub_factory(store_url))
    st.catalogue.replace_authorities(items)
    first = st.resolver.resolve("99036008007000", "055540004004", remote=False)
    assert first.found and first.level_ars == "055540000000"
    assert st.resolver.resolve("99036008007000", "055540004004", remote=False) == first
    ahaus = Zustaendigkeit(
        "99036008007000", "055540004004", "01", "oe-ahaus", "Bürgerbüro Ahaus", {}
    )
    st.catalogue.replace_authorities([*items, ahaus])
    again = st.resolver.resolve("99036008007000", "055540004004", remote=False)
    assert again.level_ars == "055540004004" and again.authority["name"] == "Bürgerbüro Ahaus"
    st.catalogue.replace_authorities([])
    assert st.resolver.resolve("99036008007000", "055540004004", remote=False).found is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
            "DTDs and entity declarations",
        ),
        ('<x xmlns="urn:other"/>', "not an XZuFi"),
        ("<unclosed", "not well-formed"),
        (
            '<t xmlns="http://xoev.de/schemata/xzufi/2_2_0"><schreibe><organisationseinheit>'
            "<id>OE1</id><name><name>A</name></name><zustaendigkeit><leistungID>LB9</leistungID>"
            "<gebietID>051110000000</gebietID></zustaendigkeit></organisationseinheit></schreibe></t>",
            "names leistung 'LB9'",
        ),
    ],
)
def test_bad_xzufi(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "x.xml"
    bad.write_text(text)
    with pytest.raises(ImportProblem, match=message):
        read_xzufi(bad)
