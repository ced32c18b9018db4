"""Reports from the facts — cases, appointments and slot utilisation, delivery times, cost
per case — per period and chosen dimensions, with small cells suppressed so that nobody can
be picked out.

Primary suppression: a count of 1 to ``threshold - 1`` is not shown. Secondary suppression:
within each period the report also gives a total, so where exactly one cell of a period is
suppressed, the next smallest one is suppressed too — the total minus the shown cells then
no longer gives the hidden one away. Zero is shown (an empty cell reveals nobody).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal_column, or_, select

from hub_evaluation import tables

C, A, E, S, K = (
    tables.cases,
    tables.appointments,
    tables.einsaetze,
    tables.slots,
    tables.costs,
)
PERIODS = ("day", "week", "month", "year")
DIMENSIONS = {
    "ars": C.c.ars,
    "channel": C.c.channel,
    "leika": C.c.leika,
    "ozg": C.c.ozg_id,
    "ozg_topic": C.c.ozg_topic,
    "einsatz": C.c.einsatz_id,
    "age_band": C.c.age_band,
}
APPOINTMENT_DIMENSIONS = {
    "ars": A.c.ars,
    "office": A.c.office,
    "channel": A.c.channel,
    "leika": A.c.leika,
}
# Counted end to end electronically: delivered over a protocol, answered with the back
# office's final status, no media break on the way, never dead-lettered.
END_TO_END = case(
    (
        and_(
            C.c.delivered_at.is_not(None),
            C.c.final_at.is_not(None),
            C.c.media_break == 0,
            C.c.dead_lettered == 0,
        ),
        1,
    ),
    else_=0,
)
MEASURES = ("cases", "delivered", "final", "end_to_end", "dead_lettered", "retries")
APPOINTMENT_MEASURES = ("booked", "cancelled", "attended", "no_show", "walk_in")
OUTCOMES = ("booked", "cancelled", "attended", "no_show", "walk_in")
PARTITION = ("cancelled", "attended", "no_show")  # what became of the booked ones


def _bucket(dialect: str, period: str, day: Any = C.c.day) -> tuple[Any, list[Any]]:
    """The period as the database computes it (fewer groups to fetch), and what to group by
    for it; where it cannot name an ISO week (SQLite), the day, folded into weeks here. The
    period ``all`` is the whole window (one group)."""
    if period == "all":
        return literal_column("'all'"), []
    found = _period_expression(dialect, period, day)
    return found, [found]


def _period_expression(dialect: str, period: str, day: Any) -> Any:
    formats = {
        "postgresql": {"month": "YYYY-MM", "year": "YYYY", "week": 'IYYY-"W"IW'},
        "sqlite": {"month": "%Y-%m", "year": "%Y"},
    }
    pattern = formats.get(dialect, {}).get(period)
    if pattern is None:
        return day
    if dialect == "postgresql":
        return func.to_char(day, pattern)
    return func.strftime(pattern, day)


def period_of(day: date, period: str) -> str:
    if period == "all":
        return "all"
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day:%Y-%m}"
    return f"{day:%Y}"


def _label(when: Any, period: str) -> str:
    return period_of(when, period) if isinstance(when, date) else str(when)


@dataclass
class Cell:
    """One period × keys; ``size`` is the count suppression looks at."""

    period: str
    keys: tuple[str | None, ...]
    values: dict[str, Any]
    size: int
    suppressed: bool = False
    hidden: tuple[str, ...] = field(default=MEASURES, repr=False)  # blanked when suppressed

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values") or {}
        if name in values:
            return values[name]
        raise AttributeError(name)


def _sum_rows(
    rows: Any, period: str, width: int, measures: tuple[str, ...]
) -> dict[tuple[str, tuple[Any, ...]], dict[str, int]]:
    sums: dict[tuple[str, tuple[Any, ...]], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(measures, 0)
    )
    for row in rows:
        when, *rest = row
        keys, counts = tuple(rest[:width]), rest[width:]
        total = sums[(_label(when, period), keys)]
        for name, n in zip(measures, counts, strict=True):
            total[name] += int(n or 0)
    return sums


def _ordered(found: dict[tuple[str, tuple[Any, ...]], Any]) -> list[tuple[Any, Any]]:
    return sorted(found.items(), key=lambda kv: (kv[0][0], _key(kv[0][1])))


def cases_report(
    store: Any,
    *,
    period: str,
    by: list[str],
    first: date,
    last: date,
    ars_patterns: list[str],
    threshold: int,
    einsaetze: list[str] | None = None,
) -> tuple[list[Cell], dict[str, int | None]]:
    """Cells (period × the ``by`` dimensions) and the totals per period (of the cases of
    ``einsaetze`` only, when given); suppressed cells keep their numbers here only for the
    totals — :func:`public` blanks them."""
    columns = [DIMENSIONS[d] for d in by]
    bucket, grouped = _bucket(store.dialect, period)
    query = (
        select(
            bucket,
            *columns,
            func.count(),
            func.count(C.c.delivered_at),
            func.count(C.c.final_at),
            func.sum(END_TO_END),
            func.sum(C.c.dead_lettered),
            func.sum(C.c.retries),
        )
        .where(C.c.day >= first, C.c.day <= last)
        .group_by(*grouped, *columns)
    )
    query = _scoped(query, C.c.ars, ars_patterns)
    if einsaetze is not None:
        query = query.where(C.c.einsatz_id.in_(einsaetze))
    with store.reading() as conn:
        sums = _sum_rows(conn.execute(query), period, len(by), MEASURES)
    cells = [Cell(p, keys, values, values["cases"]) for (p, keys), values in _ordered(sums)]
    return cells, _suppress(cells, threshold)


def appointments_report(
    store: Any,
    *,
    period: str,
    by: list[str],
    first: date,
    last: date,
    ars_patterns: list[str],
    threshold: int,
    einsaetze: list[str] | None = None,
) -> tuple[list[Cell], dict[str, int | None]]:
    """Appointments (at the offices of ``einsaetze`` only, when given) per period and
    dimension (ars, office, channel, leika): booked (ever confirmed), cancelled, attended,
    no-show, walk-ins; and where the dimensions allow it (ars, office) the slots Einsätze
    offered and their utilisation — appointments held (booked minus cancelled) per offered
    slot. Suppression looks at booked plus walk-ins."""
    columns = [APPOINTMENT_DIMENSIONS[d] for d in by]
    bucket, grouped = _bucket(store.dialect, period, A.c.day)

    def status(name: str) -> Any:
        return func.sum(case((A.c.status == name, 1), else_=0))

    query = (
        select(
            bucket,
            *columns,
            func.sum(A.c.booked),
            status("cancelled"),
            status("attended"),
            status("no_show"),
            status("walk_in"),
        )
        .where(A.c.day >= first, A.c.day <= last)
        .group_by(*grouped, *columns)
    )
    query = _scoped(query, A.c.ars, ars_patterns)
    offered_by = set(by) <= {"ars", "office"}
    with store.reading() as conn:
        if einsaetze is not None:
            known = conn.execute(
                select(E.c.system, E.c.einsatz_id).where(E.c.einsatz_id.in_(einsaetze))
            ).all()
            query = query.where(A.c.office.in_([f"{r.system}:{r.einsatz_id}" for r in known]))
        sums = _sum_rows(conn.execute(query), period, len(by), APPOINTMENT_MEASURES)
        offered: dict[tuple[str, tuple[Any, ...]], int] = defaultdict(int)
        if offered_by:
            office = E.c.system + ":" + S.c.einsatz_id
            slot_columns = [{"ars": E.c.ars, "office": office}[d] for d in by]
            slot_bucket, slot_grouped = _bucket(store.dialect, period, S.c.day)
            slot_query = (
                select(slot_bucket, *slot_columns, func.sum(S.c.offered))
                .select_from(S.join(E, E.c.einsatz_id == S.c.einsatz_id))
                .where(S.c.day >= first, S.c.day <= last, E.c.system.is_not(None))
                .group_by(*slot_grouped, *slot_columns)
            )
            if einsaetze is not None:
                slot_query = slot_query.where(S.c.einsatz_id.in_(einsaetze))
            for when, *rest in conn.execute(_scoped(slot_query, E.c.ars, ars_patterns)):
                offered[(_label(when, period), tuple(rest[:-1]))] += int(rest[-1] or 0)
    for key in offered:
        sums.setdefault(key, dict.fromkeys(APPOINTMENT_MEASURES, 0))
    cells = []
    for key, values in _ordered(sums):
        slots = offered.get(key) if offered_by else None
        held = values["booked"] - values["cancelled"]
        values = {
            **values,
            "offered": slots,
            "utilisation": round(held / slots, 3) if slots else None,
        }
        cells.append(
            Cell(
                key[0],
                key[1],
                values,
                values["booked"] + values["walk_in"],
                hidden=(*APPOINTMENT_MEASURES, "utilisation"),
            )
        )
    totals = _suppress(cells, threshold)
    for cell in cells:
        _suppress_outcomes(cell, threshold)
    return cells, totals


def _suppress_outcomes(cell: Cell, threshold: int) -> None:
    """Within a shown cell the outcomes are people too: a small count of bookings, of
    walk-ins, or of those who came, stayed away or cancelled, is not shown; where one
    outcome alone is hidden, the next smallest goes too (booked would give it away)."""
    if cell.suppressed:
        return
    small = {m for m in OUTCOMES if 0 < cell.values[m] < threshold}
    if len(small & set(PARTITION)) == 1:
        rest = sorted((m for m in PARTITION if m not in small and cell.values[m]),
                      key=lambda m: cell.values[m])  # fmt: skip
        small.update(rest[:1])
    for m in small:
        cell.values[m] = None
    if "cancelled" in small:  # utilisation is (booked - cancelled) / offered
        cell.values["utilisation"] = None


@dataclass
class Timing:
    period: str
    keys: tuple[str | None, ...]
    delivered: int
    median_minutes: float | None
    p90_minutes: float | None


def nearest_rank(sorted_values: list[float], share: float) -> float:
    """The nearest-rank percentile (no interpolation: a value that occurred)."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def delivery_times(
    store: Any,
    *,
    period: str,
    by: list[str],
    first: date,
    last: date,
    ars_patterns: list[str],
    threshold: int,
    until: str = "delivered",
    einsaetze: list[str] | None = None,
) -> list[Timing]:
    """Minutes from intake to delivery (``until="delivered"``) or to the back office's final
    status (``"final"``) per period and dimensions: median and 90th percentile (nearest
    rank); cells of fewer than ``threshold`` cases show no figures (a small group's times
    would describe people)."""
    columns = [DIMENSIONS[d] for d in by]
    end = C.c.final_at if until == "final" else C.c.delivered_at
    query = select(C.c.day, *columns, C.c.received_at, end).where(
        C.c.day >= first, C.c.day <= last, end.is_not(None)
    )
    query = _scoped(query, C.c.ars, ars_patterns)
    if einsaetze is not None:
        query = query.where(C.c.einsatz_id.in_(einsaetze))
    groups: dict[tuple[str, tuple[Any, ...]], list[float]] = defaultdict(list)
    with store.reading() as conn:
        for row in conn.execute(query):
            day, *rest = row
            keys, (received, done) = tuple(rest[: len(by)]), rest[len(by) :]
            groups[(period_of(day, period), keys)].append((done - received).total_seconds() / 60)
    found = []
    for (label, keys), values in _ordered(groups):
        values.sort()
        small = len(values) < threshold
        found.append(
            Timing(
                label,
                keys,
                len(values),
                None if small else round(nearest_rank(values, 0.5), 1),
                None if small else round(nearest_rank(values, 0.9), 1),
            )
        )
    return found


@dataclass
class CostLine:
    """The costs entered for one Einsatz (or one channel of a municipality) within the
    window, and the cases they served."""

    scope: dict[str, str | None]
    staff_hours: float
    cost_eur: float
    cases: int | None  # None: fewer than the threshold
    cost_per_case_eur: float | None


def costs_report(
    store: Any, *, first: date, last: date, ars_patterns: list[str], threshold: int
) -> list[CostLine]:
    """Cost per case: each cost entry counts in the share of its days that falls within the
    window (a year's kit cost in a month's report: a twelfth), against the cases of its
    Einsatz (or its municipality's channel) on those days."""
    query = _scoped(
        select(K).where(K.c.first_day <= last, K.c.last_day >= first), K.c.ars, ars_patterns
    )
    lines: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    names: dict[str, str] = {}
    with store.reading() as conn:
        for entry in conn.execute(query):
            start, end = max(first, entry.first_day), min(last, entry.last_day)
            share = ((end - start).days + 1) / ((entry.last_day - entry.first_day).days + 1)
            cost = (
                entry.staff_hours * entry.hourly_rate_eur
                + entry.travel_eur
                + entry.kit_eur
                + entry.other_eur
            )
            if entry.einsatz_id:
                scope: tuple[Any, ...] = ("einsatz", entry.einsatz_id)
                where = C.c.einsatz_id == entry.einsatz_id
            else:
                scope = ("channel", entry.ars, entry.channel)
                where = and_(C.c.ars == entry.ars, C.c.channel == entry.channel)
            served = conn.execute(
                select(func.count()).where(where, C.c.day >= start, C.c.day <= end)
            ).scalar_one()
            line = lines[scope]
            line[0] += entry.staff_hours * share
            line[1] += cost * share
            line[2] += served
        for row in conn.execute(select(E.c.einsatz_id, E.c.name)):
            names[row.einsatz_id] = row.name
    found = []
    for scope, (hours, cost, served) in sorted(lines.items()):
        shown = served if served == 0 or served >= threshold else None
        described = (
            {"einsatz": scope[1], "name": names.get(scope[1])}
            if scope[0] == "einsatz"
            else {"ars": scope[1], "channel": scope[2]}
        )
        found.append(
            CostLine(
                described,
                round(hours, 2),
                round(cost, 2),
                shown,
                round(cost / served, 2) if shown else None,
            )
        )
    return found


def _scoped(query: Any, column: Any, ars_patterns: list[str]) -> Any:
    if "*" in ars_patterns:
        return query
    return query.where(
        or_(*[column.like(p[:-1] + "%") if p.endswith("*") else column == p for p in ars_patterns])
    )


def _key(keys: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if k is None else str(k) for k in keys)


def _suppress(cells: list[Cell], threshold: int) -> dict[str, int | None]:
    """Mark small cells (and the next smallest where one alone is hidden in a period);
    returns each period's total, itself hidden when small."""
    by_period: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        cell.suppressed = 0 < cell.size < threshold
        by_period[cell.period].append(cell)
    for group in by_period.values():
        hidden = [c for c in group if c.suppressed]
        if len(hidden) == 1:
            shown = sorted((c for c in group if not c.suppressed and c.size), key=lambda c: c.size)
            if shown:
                shown[0].suppressed = True
    totals = {p: sum(c.size for c in group) for p, group in by_period.items()}
    return {p: (None if 0 < n < threshold else n) for p, n in totals.items()}


def public(cell: Cell, by: list[str]) -> dict[str, Any]:
    """A cell as it leaves the hub: a suppressed cell's counts are ``None``."""
    out: dict[str, Any] = {"period": cell.period}
    out.update({name: key for name, key in zip(by, cell.keys, strict=True)})
    for measure, value in cell.values.items():
        out[measure] = None if cell.suppressed and measure in cell.hidden else value
    out["suppressed"] = cell.suppressed
    return out


def table(
    cells: list[Cell], by: list[str], totals: dict[str, int | None], total_of: str
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows for files (CSV, XLSX, ODS): the public cells and, after each
    period, a TOTAL row with the period's ``total_of`` count."""
    measures = list(cells[0].values) if cells else [total_of]
    header = ["period", *by, *measures, "suppressed"]
    rows: list[list[Any]] = []
    last = None

    def total_row(period: str) -> list[Any]:
        n = totals.get(period)
        counts = [n if m == total_of else None for m in measures]
        return [period, *(["TOTAL"] * len(by)), *counts, int(n is None)]

    for cell in cells:
        if last is not None and cell.period != last:
            rows.append(total_row(last))
        shown = public(cell, by)
        rows.append(
            [cell.period, *[shown[b] for b in by], *[shown[m] for m in measures],
             int(cell.suppressed)]
        )  # fmt: skip
        last = cell.period
    if last is not None:
        rows.append(total_row(last))
    return header, rows


def window(first: date | None, last: date | None) -> tuple[date, date]:
    today = date.today()
    end = last or today
    return (first or end - timedelta(days=365)), end


__all__ = [
    "APPOINTMENT_DIMENSIONS",
    "DIMENSIONS",
    "PERIODS",
    "Cell",
    "CostLine",
    "Timing",
    "appointments_report",
    "cases_report",
    "costs_report",
    "delivery_times",
    "nearest_rank",
    "public",
    "table",
    "window",
]
