"""The figures of an "evaluation after one year" for a set of Einsätze — what councils
asked for: cases per Einsatz, month and service, appointments and the utilisation of offered
slots, times to delivery and to the back office's final status, the share handled end to end
electronically, age bands and cost per case. Everything comes from the suppressed reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from hub_evaluation import tables
from hub_evaluation.report import (
    appointments_report,
    cases_report,
    costs_report,
    delivery_times,
    public,
)

KIND_WORDS = {
    "popup": "Pop-up-Bürgerbüro",
    "buergermobil": "Bürgermobil",
    "koffer_partner": "Bürgerkoffer",
    "home_visit": "Hausbesuche",
}


@dataclass
class EinsatzFigures:
    einsatz_id: str
    name: str
    kind: str
    place: str
    ars: str
    lat: float
    lon: float
    days: int  # days held within the window
    offered: int  # slots offered for booking on them
    cases: int | None = None  # None: hidden (small)
    end_to_end: int | None = None
    appointments: dict[str, Any] = field(default_factory=dict)
    cost_per_case_eur: float | None = None
    cost_eur: float | None = None


@dataclass
class Evaluation:
    first: date
    last: date
    min_cell: int
    einsaetze: list[EinsatzFigures]
    total_cases: int | None
    per_month: dict[str, int | None]
    per_service: list[dict[str, Any]]
    per_topic: list[dict[str, Any]]
    age_bands: list[dict[str, Any]]
    to_delivery: tuple[float | None, float | None, int]  # median, p90 (minutes), cases
    to_final: tuple[float | None, float | None, int]
    end_to_end: tuple[int | None, int | None]  # cases end to end, of cases (shown ones)


def evaluation(
    store: Any,
    einsatz_ids: list[str],
    *,
    first: date,
    last: date,
    ars_patterns: list[str],
    threshold: int,
) -> Evaluation:
    """The figures for ``einsatz_ids`` (those the person may see) within the window."""
    E, S = tables.einsaetze, tables.slots
    with store.reading() as conn:
        rows = conn.execute(select(E).where(E.c.einsatz_id.in_(einsatz_ids))).all()
        per_einsatz: dict[str, list[int]] = {}
        for r in conn.execute(
            select(S.c.einsatz_id, S.c.offered).where(
                S.c.einsatz_id.in_(einsatz_ids), S.c.day >= first, S.c.day <= last
            )
        ):
            days_offered = per_einsatz.setdefault(r.einsatz_id, [0, 0])
            days_offered[0] += 1
            days_offered[1] += r.offered
    visible = [r for r in rows if _in_scope(r.ars, ars_patterns)]
    ids = [r.einsatz_id for r in visible]
    common = {"first": first, "last": last, "ars_patterns": ars_patterns, "threshold": threshold}
    figures = {}
    for r in visible:
        days, offered = per_einsatz.get(r.einsatz_id, [0, 0])
        figures[r.einsatz_id] = EinsatzFigures(
            r.einsatz_id, r.name, r.kind, r.place, r.ars, r.lat, r.lon, days, offered
        )
    cells, totals = cases_report(store, period="all", by=["einsatz"], einsaetze=ids, **common)
    for cell in cells:
        shown = public(cell, ["einsatz"])
        if cell.keys[0] in figures:
            figures[cell.keys[0]].cases = shown["cases"]
            figures[cell.keys[0]].end_to_end = shown["end_to_end"]
    booked, _ = appointments_report(store, period="all", by=["office"], einsaetze=ids, **common)
    for cell in booked:
        einsatz = str(cell.keys[0]).partition(":")[2]
        if einsatz in figures:
            figures[einsatz].appointments = public(cell, ["office"])
    for line in costs_report(store, **common):
        einsatz = line.scope.get("einsatz")
        if einsatz in figures:
            figures[einsatz].cost_per_case_eur = line.cost_per_case_eur
            figures[einsatz].cost_eur = line.cost_eur
    months, _ = cases_report(store, period="month", by=[], einsaetze=ids, **common)
    services, _ = cases_report(store, period="all", by=["leika"], einsaetze=ids, **common)
    bands, _ = cases_report(store, period="all", by=["age_band"], einsaetze=ids, **common)
    topics, _ = cases_report(store, period="all", by=["ozg_topic"], einsaetze=ids, **common)
    whole = [public(c, []) for c in cases_report(
        store, period="all", by=[], einsaetze=ids, **common)[0]]  # fmt: skip
    return Evaluation(
        first=first,
        last=last,
        min_cell=threshold,
        einsaetze=sorted(figures.values(), key=lambda f: (f.kind, f.name)),
        total_cases=totals.get("all"),
        per_month={c.period: public(c, [])["cases"] for c in months},
        per_service=[public(c, ["leika"]) for c in services],
        per_topic=[public(c, ["ozg_topic"]) for c in topics],
        age_bands=[public(c, ["age_band"]) for c in bands],
        to_delivery=_times(store, ids, "delivered", common),
        to_final=_times(store, ids, "final", common),
        end_to_end=(whole[0]["end_to_end"], whole[0]["cases"]) if whole else (None, None),
    )


def places(
    store: Any, *, first: date, last: date, ars_patterns: list[str], threshold: int
) -> list[tuple[str, float, float, int | None]]:
    """Each visible Einsatz's place with its cases in the window (None: hidden), for the map."""
    E = tables.einsaetze
    with store.reading() as conn:
        rows = [r for r in conn.execute(select(E)).all() if _in_scope(r.ars, ars_patterns)]
    cells, _ = cases_report(
        store, period="all", by=["einsatz"], first=first, last=last,
        ars_patterns=ars_patterns, threshold=threshold, einsaetze=[r.einsatz_id for r in rows],
    )  # fmt: skip
    cases = {c.keys[0]: public(c, ["einsatz"])["cases"] for c in cells}
    return [(r.place, r.lat, r.lon, cases.get(r.einsatz_id)) for r in rows]


def _times(
    store: Any, ids: list[str], until: str, common: dict[str, Any]
) -> tuple[float | None, float | None, int]:
    found = delivery_times(store, period="all", by=[], until=until, einsaetze=ids, **common)
    if not found:
        return None, None, 0
    t = found[0]
    return t.median_minutes, t.p90_minutes, t.delivered


def _in_scope(ars: str, patterns: list[str]) -> bool:
    return any(
        p == "*" or ars == p or (p.endswith("*") and ars.startswith(p[:-1])) for p in patterns
    )


__all__ = ["KIND_WORDS", "EinsatzFigures", "Evaluation", "evaluation", "places"]
