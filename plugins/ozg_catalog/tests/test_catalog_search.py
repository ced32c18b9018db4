"""Search as citizens write: measured on the relevance query set, and the rules it rests on."""

from __future__ import annotations

import json

import pytest

from hub_ozg_catalog.search import SearchIndex
from hub_ozg_catalog.text import fold, split_compound


@pytest.fixture(scope="module")
def index(kdn_rows) -> SearchIndex:
    return SearchIndex(kdn_rows)


def top(index: SearchIndex, query: str, n: int = 3) -> list[str]:
    return [h.key for h in index.search(query, n)]


def test_query_set_top3_at_least_90_percent(index: SearchIndex, repo_root) -> None:
    queries = json.loads((repo_root / "bench" / "catalog_queries.json").read_text())["queries"]
    hits = sum(any(k in q["accept"] for k in top(index, q["q"])) for q in queries)
    assert len(queries) >= 60
    assert hits / len(queries) >= 0.9, f"top-3 {hits}/{len(queries)}"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Führerschein", "Fuehrerschein"),
        ("Straßenverkehr", "Strassenverkehr"),
        ("MELDEBESTÄTIGUNG", "meldebestaetigung"),
    ],
)
def test_case_umlaut_and_sz_folding(index: SearchIndex, a: str, b: str) -> None:
    assert fold(a) == fold(b)
    assert top(index, a) == top(index, b) and top(index, a)


def test_compounds_split_against_the_vocabulary(index: SearchIndex) -> None:
    assert split_compound("wohnsitzanmeldung", index.vocabulary) == ["wohnsitz", "anmeldung"]
    assert top(index, "Wohnsitzanmeldung", 1) == top(index, "Wohnsitz Anmeldung", 1)


def test_verb_and_noun_forms_meet(index: SearchIndex) -> None:
    assert top(index, "Gewerbe anmelden", 1) == ["99050012104000"]
    assert top(index, "Gewerbe Anmeldung", 1) == ["99050012104000"]


def test_colloquial_words(index: SearchIndex) -> None:
    assert top(index, "Perso", 2)[0].startswith("99008001")
    assert "99115003012000" in top(index, "Meldebescheinigung")
    # "Ausstellung neu wegen Verlust" and "Meldung wegen Verlust" both answer it
    assert top(index, "Personalausweis verloren", 1)[0] in {"99008001012003", "99008001014002"}


def test_typos_are_forgiven(index: SearchIndex) -> None:
    assert top(index, "Persnalausweis", 1)[0].startswith("99008001")
    assert top(index, "Geburtsurkunbe", 1)[0].startswith("99027002")


def test_nonsense_finds_nothing(index: SearchIndex) -> None:
    assert index.search("xqzzv blorp", 5) == []
    assert index.search("   ", 5) == []
