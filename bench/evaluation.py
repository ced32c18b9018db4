"""Evaluation benchmark: a yearly cases report over one million cases, against a plain SQL
GROUP BY of the same data in the same run, on SQLite and PostgreSQL.

Setup: the sample year (:mod:`hub_evaluation.sample`: the Bürgermobil's tour, pop-up rounds,
koffer Thursdays, home visits, portal traffic) fed through the hub's real intake and delivery
under a simulated clock, through a hub with every bundled plugin installed — its speed is
printed as a figure of its own — and its facts copied (new record ids, same days, places,
channels, services, age bands and times) until the table holds ``--cases``. Measured, each a
whole run, medians over ``--runs``:

- **ours**: the report as users get it — :func:`hub_evaluation.report.cases_report` per month by
  channel and service (received, delivered, final, end to end, dead letters, retries; small
  cells suppressed, totals), wall time and peak memory (tracemalloc) of the call;
- **baseline**: one plain ``SELECT month, channel, leika, count(*), … GROUP BY`` of the same
  measures over the same table, all rows fetched.

    python bench/evaluation.py [--cases 1000000] [--scale 0.1] [--runs 3]
                               [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
import uuid
from datetime import date, timedelta
from pathlib import Path
from random import Random

from sqlalchemy import select, text

from hub.testing import Hub, hub_config, postgres_schema
from hub_evaluation import tables
from hub_evaluation.report import cases_report
from hub_evaluation.sample import feed

YEAR = 2025
FIRST = date(YEAR, 1, 1)


def fill(hub: Hub, n: int, scale: float) -> None:
    t = time.perf_counter()
    truth = feed(hub, year=YEAR, seed=7, scale=scale)
    seconds = time.perf_counter() - t
    print(
        f"{hub.store.dialect}: sample year of {truth.total:,} cases through the real intake in "
        f"{seconds:.0f} s ({truth.total / seconds:.0f} cases/s, with delivery and answers)"
    )
    with hub.store.reading() as conn:
        year = [dict(r._mapping) for r in conn.execute(select(tables.cases))]
    rng, batch, written = Random(7), [], len(year)
    t = time.perf_counter()
    with hub.store.transaction() as conn:
        while written < n:
            for row in year:
                if written >= n:
                    break
                batch.append({**row, "record_id": str(uuid.UUID(int=rng.getrandbits(128)))})
                written += 1
                if len(batch) == 20000:
                    conn.execute(tables.cases.insert(), batch)
                    batch = []
        if batch:
            conn.execute(tables.cases.insert(), batch)
    print(f"  copied to {n:,} cases in {time.perf_counter() - t:.0f} s")


def ours(hub: Hub) -> int:
    cells, _ = cases_report(
        hub.store,
        period="month",
        by=["channel", "leika"],
        first=FIRST,
        last=FIRST + timedelta(days=364),
        ars_patterns=["*"],
        threshold=5,
    )
    return len(cells)


def baseline(hub: Hub) -> int:
    month = "strftime('%Y-%m', day)" if hub.store.dialect == "sqlite" else "to_char(day, 'YYYY-MM')"
    query = text(
        f"SELECT {month} AS m, channel, leika, count(*), count(delivered_at), count(final_at),"
        " sum(CASE WHEN delivered_at IS NOT NULL AND final_at IS NOT NULL AND media_break = 0"
        " AND dead_lettered = 0 THEN 1 ELSE 0 END), sum(dead_lettered), sum(retries)"
        " FROM evaluation_cases WHERE day BETWEEN :a AND :b GROUP BY m, channel, leika"
    )
    with hub.store.reading() as conn:
        rows = conn.execute(query, {"a": FIRST, "b": FIRST + timedelta(days=364)}).all()
    return len(rows)


def measure(fn, hub: Hub) -> tuple[float, float, int]:
    tracemalloc.start()
    t = time.perf_counter()
    cells = fn(hub)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 2**20, cells


def run(url: str, tmp: Path, n: int, runs: int, scale: float) -> None:
    hub = Hub(hub_config(url, tmp / "out", "bench-token-0123456789", plugins={"evaluation": {}}))
    hub.start(intake_thread=False)
    try:
        fill(hub, n, scale)
        results = {"ours": [], "baseline": []}
        for _ in range(runs):  # alternate, so drift hits both
            results["baseline"].append(measure(baseline, hub))
            results["ours"].append(measure(ours, hub))
        for name, found in results.items():
            secs = statistics.median(r[0] for r in found)
            mem = statistics.median(r[1] for r in found)
            print(
                f"  {name:<9} {secs:7.2f} s  (runs {' · '.join(f'{r[0]:.2f}' for r in found)})"
                f"  peak {mem:6.1f} MiB  cells {found[0][2]:,}"
            )
        ratio = statistics.median(r[0] for r in results["ours"]) / statistics.median(
            r[0] for r in results["baseline"]
        )
        print(f"  ours ÷ baseline: {ratio:.2f}")
    finally:
        hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.1, help="of the sample year")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    for database in args.databases.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            if database == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'hub.db'}"
                run(url, Path(tmp), args.cases, args.runs, args.scale)
            else:
                with postgres_schema("benchevaluation") as url:
                    run(url, Path(tmp), args.cases, args.runs, args.scale)


if __name__ == "__main__":
    main()
