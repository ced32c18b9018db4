"""Reports from the facts: cases per period and chosen dimensions, with small cells
suppressed so that nobody can be picked out.

Primary suppression: a count of 1 to ``threshold - 1`` is not shown. Secondary suppression:
within each period the report also gives a total, so where exactly one cell of a period is
suppressed, the next smallest one is suppressed too — the total minus the shown cells then
no longer gives the hidden one away. Zero is shown (an empty cell reveals nobody).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from hub_evaluation import tables

C = tables.cases
PERIODS = ("day", "week", "month", "year")
DIMENSIONS = {
    "ars": C.c.ars,
    "channel": C.c.channel,
    "leika": C.c.leika,
    "einsatz": C.c.einsatz_id,
    "age_band": C.c.age_band,
}
MEASURES = ("cases", "delivered", "dead_lettered", "retries")


def _bucket(dialect: str, period: str) -> Any:
    """The period as the database computes it (fewer groups to fetch); where it cannot name
    an ISO week (SQLite), the day, folded into weeks here."""
    formats = {
        "postgresql": {"month": "YYYY-MM", "year": "YYYY", "week": 'IYYY-"W"IW'},
        "sqlite": {"month": "%Y-%m", "year": "%Y"},
    }
    pattern = formats.get(dialect, {}).get(period)
    if pattern is None:
        return C.c.day
    if dialect == "postgresql":
        return func.to_char(C.c.day, pattern)
    return func.strftime(pattern, C.c.day)


def period_of(day: date, period: str) -> str:
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day:%Y-%m}"
    return f"{day:%Y}"


@dataclass
class Cell:
    period: str
    keys: tuple[str | None, ...]
    cases: int
    delivered: int
    dead_lettered: int
    retries: int
    suppressed: bool = False


def cases_report(
    store: Any,
    *,
    period: str,
    by: list[str],
    first: date,
    last: date,
    ars_patterns: list[str],
    threshold: int,
) -> tuple[list[Cell], dict[str, int | None]]:
    """Cells (period × the ``by`` dimensions) and the totals per period; suppressed cells
    keep their numbers here only for the totals — :func:`public` blanks them."""
    columns = [DIMENSIONS[d] for d in by]
    bucket = _bucket(store.dialect, period)
    query = (
        select(
            bucket,
            *columns,
            func.count(),
            func.count(C.c.delivered_at),
            func.sum(C.c.dead_lettered),
            func.sum(C.c.retries),
        )
        .where(C.c.day >= first, C.c.day <= last)
        .group_by(bucket, *columns)
    )
    query = _scoped(query, ars_patterns)
    sums: dict[tuple[str, tuple[Any, ...]], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with store.reading() as conn:
        for row in conn.execute(query):
            when, *rest = row
            label = period_of(when, period) if isinstance(when, date) else str(when)
            keys, counts = tuple(rest[: len(by)]), rest[len(by) :]
            total = sums[(label, keys)]
            for i, n in enumerate(counts):
                total[i] += int(n or 0)
    cells = [
        Cell(p, keys, *values)
        for (p, keys), values in sorted(sums.items(), key=lambda kv: (kv[0][0], _key(kv[0][1])))
    ]
    sums_per_period: dict[str, int] = defaultdict(int)
    for cell in cells:
        sums_per_period[cell.period] += cell.cases
    _suppress(cells, threshold)
    # A period's total is a cell too: a small one is not shown either.
    totals = {p: (None if 0 < n < threshold else n) for p, n in sums_per_period.items()}
    return cells, totals


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
) -> list[Timing]:
    """Minutes from intake to delivery per period and dimensions: median and 90th
    percentile (nearest rank) of the delivered cases; cells of fewer than ``threshold``
    delivered cases show no figures (a small group's times would describe people)."""
    columns = [DIMENSIONS[d] for d in by]
    query = select(C.c.day, *columns, C.c.received_at, C.c.delivered_at).where(
        C.c.day >= first, C.c.day <= last, C.c.delivered_at.is_not(None)
    )
    query = _scoped(query, ars_patterns)
    groups: dict[tuple[str, tuple[Any, ...]], list[float]] = defaultdict(list)
    with store.reading() as conn:
        for row in conn.execute(query):
            day, *rest = row
            keys, (received, delivered) = tuple(rest[: len(by)]), rest[len(by) :]
            minutes = (delivered - received).total_seconds() / 60
            groups[(period_of(day, period), keys)].append(minutes)
    found = []
    for (label, keys), values in sorted(groups.items(), key=lambda kv: (kv[0][0], _key(kv[0][1]))):
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


def _scoped(query: Any, ars_patterns: list[str]) -> Any:
    if "*" in ars_patterns:
        return query
    return query.where(
        or_(
            *[C.c.ars.like(p[:-1] + "%") if p.endswith("*") else C.c.ars == p for p in ars_patterns]
        )
    )


def _key(keys: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if k is None else str(k) for k in keys)


def _suppress(cells: list[Cell], threshold: int) -> None:
    by_period: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        cell.suppressed = 0 < cell.cases < threshold
        by_period[cell.period].append(cell)
    for group in by_period.values():
        hidden = [c for c in group if c.suppressed]
        if len(hidden) == 1:
            shown = sorted((c for c in group if not c.suppressed), key=lambda c: c.cases)
            if shown:
                shown[0].suppressed = True


def public(cell: Cell, by: list[str]) -> dict[str, Any]:
    """A cell as it leaves the hub: suppressed numbers are ``None``."""
    out: dict[str, Any] = {"period": cell.period}
    out.update({name: key for name, key in zip(by, cell.keys, strict=True)})
    for measure in MEASURES:
        out[measure] = None if cell.suppressed else getattr(cell, measure)
    out["suppressed"] = cell.suppressed
    return out


def as_csv(cells: list[Cell], by: list[str], totals: dict[str, int | None]) -> str:
    """CSV (RFC 4180) with a total row per period; a suppressed cell's numbers are empty
    fields and its ``suppressed`` column is 1."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["period", *by, *MEASURES, "suppressed"])
    last = None
    for cell in cells:
        if last is not None and cell.period != last:
            writer.writerow(_total_row(last, by, totals))
        row = public(cell, by)
        writer.writerow(
            [row["period"], *[row[b] or "" for b in by],
             *["" if row[m] is None else row[m] for m in MEASURES], int(cell.suppressed)]
        )  # fmt: skip
        last = cell.period
    if last is not None:
        writer.writerow(_total_row(last, by, totals))
    return buffer.getvalue()


def _total_row(period: str, by: list[str], totals: dict[str, int | None]) -> list[Any]:
    n = totals[period]
    return [period, *(["TOTAL"] * len(by)), "" if n is None else n, "", "", "", int(n is None)]


def window(first: date | None, last: date | None) -> tuple[date, date]:
    today = date.today()
    end = last or today
    return (first or end - timedelta(days=365)), end


__all__ = [
    "DIMENSIONS",
    "PERIODS",
    "Cell",
    "Timing",
    "as_csv",
    "cases_report",
    "delivery_times",
    "nearest_rank",
    "public",
    "window",
]
