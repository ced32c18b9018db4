"""Leistungsschlüssel and Regionalschlüssel are understood, not just stored."""

from __future__ import annotations

import pytest

from hub_ozg_catalog.keys import Ars, KeyError_, LeikaKey, LeikaKind, RegionLevel


@pytest.mark.parametrize(
    ("key", "kind", "verrichtung", "detail", "parent"),
    [
        ("99115005000000", LeikaKind.LO, None, None, None),
        ("99115005104000", LeikaKind.LOV, "104", None, "99115005000000"),
        ("99115005104001", LeikaKind.LOVD, "104", "001", "99115005104000"),
    ],
)
def test_leika_key_structure(key, kind, verrichtung, detail, parent) -> None:
    k = LeikaKey.parse(key)
    assert (k.kind, k.verrichtung, k.detail, k.parent) == (kind, verrichtung, detail, parent)
    assert k.objekt_id == "99115005" and k.gruppierung == "115" and k.kennung == "005"
    assert k.as_dict()["urn"] == f"urn:de:fim:leika:leistung:{key}"


def test_verrichtung_names() -> None:
    assert LeikaKey.parse("99115005104000").verrichtung_name == "Anmeldung"
    assert LeikaKey.parse("99008001012000").verrichtung_name == "Ausstellung"


@pytest.mark.parametrize("bad", ["9911500510400", "12115005104000", "99115005104ABC", "", 99])
def test_malformed_leika_keys(bad) -> None:
    with pytest.raises(KeyError_, match="14 digits"):
        LeikaKey.parse(bad)


def test_ars_of_a_gemeinde_in_a_verband() -> None:
    ahaus = Ars.parse("055540004004")
    assert ahaus.ags == "05554004"
    assert (ahaus.land, ahaus.regierungsbezirk, ahaus.kreis) == ("05", "5", "54")
    assert (ahaus.gemeindeverband, ahaus.gemeinde) == ("0004", "004")
    assert ahaus.level is RegionLevel.gemeinde and ahaus.land_name == "Nordrhein-Westfalen"
    assert ahaus.hierarchy() == [
        "055540004004",
        "055540004000",
        "055540000000",
        "055000000000",
        "050000000000",
        "000000000000",
    ]


def test_ars_of_a_kreisfreie_stadt_and_from_ags() -> None:
    duesseldorf = Ars.parse("051110000000")
    assert duesseldorf.ags == "05111000"
    assert Ars.parse("05111000") == duesseldorf  # AGS accepted, converted
    assert duesseldorf.hierarchy() == [
        "051110000000",
        "051000000000",
        "050000000000",
        "000000000000",
    ]
    assert Ars.parse("050000000000").level is RegionLevel.land
    assert Ars.parse("000000000000").level is RegionLevel.bund


@pytest.mark.parametrize(
    ("bad", "rule"),
    [("05111000000", "12 digits"), ("171110000000", "Land code"), ("0511100000a0", "12 digits")],
)
def test_malformed_ars(bad, rule) -> None:
    with pytest.raises(KeyError_, match=rule):
        Ars.parse(bad)
