"""Evaluation benchmark: a yearly cases report over one million cases, against a plain SQL
GROUP BY of the same data in the same run, on SQLite and PostgreSQL.

Setup (not timed): the evaluation plugin's facts table filled with 1,000,000 cases spread over
a year — 50 municipalities (ARS), the six channels, 40 services (LeiKa), age bands — the way
the plugin writes them, through a hub with every bundled plugin installed. Measured, each a
whole run, medians over ``--runs``:

- **ours**: the report as users get it — :func:`hub_evaluation.report.cases_report` per month by
  channel and service (per-day groups from the database, folded into months, small cells
  suppressed), wall time and peak memory (tracemalloc) of the call;
- **baseline**: one plain ``SELECT strftime/to_char(month), channel, leika, count(*) … GROUP BY``
  over the same table, all rows fetched.

    python bench/evaluation.py [--cases 1000000] [--runs 3] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from sqlalchemy import text

from hub.testing import Hub, hub_config, postgres_schema
from hub_evaluation import tables
from hub_evaluation.report import cases_report

CHANNELS = ["portal", "koffer", "buergermobil", "popup", "home_visit", "counter"]
BANDS = ["0-17", "18-29", "30-49", "50-64", "65-79", "80+"]
FIRST = date(2026, 1, 1)


def fill(hub: Hub, n: int, rng: random.Random) -> None:
    arses = [f"05{i:03d}0000000"[:12] for i in range(111, 161)]
    leikas = [f"99{rng.randrange(10**11, 10**12)}000"[:14] for _ in range(40)]
    batch = []
    with hub.store.transaction() as conn:
        for i in range(n):
            day = FIRST + timedelta(days=rng.randrange(365))
            at = datetime.combine(day, clock(9), UTC)
            batch.append(
                {
                    "record_id": uuid.UUID(int=rng.getrandbits(128)).hex[:32] + f"{i % 10000:04d}",
                    "day": day,
                    "ars": rng.choice(arses),
                    "channel": rng.choices(CHANNELS, weights=[60, 10, 8, 6, 2, 14])[0],
                    "leika": rng.choice(leikas),
                    "age_band": rng.choice(BANDS),
                    "received_at": at,
                    "delivered_at": at + timedelta(minutes=5),
                    "dead_lettered": 0,
                    "retries": 0,
                }
            )
            if len(batch) == 20000:
                conn.execute(tables.cases.insert(), batch)
                batch = []
        if batch:
            conn.execute(tables.cases.insert(), batch)


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
        f"SELECT {month} AS m, channel, leika, count(*), count(delivered_at),"
        " sum(dead_lettered), sum(retries) FROM evaluation_cases"
        " WHERE day BETWEEN :a AND :b GROUP BY m, channel, leika"
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


def run(url: str, tmp: Path, n: int, runs: int) -> None:
    hub = Hub(hub_config(url, tmp / "out", "bench-token-0123456789", plugins={"evaluation": {}}))
    hub.start(intake_thread=False)
    try:
        t = time.perf_counter()
        fill(hub, n, random.Random(7))
        print(f"{hub.store.dialect}: {n:,} cases written in {time.perf_counter() - t:.0f} s")
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
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    for database in args.databases.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            if database == "sqlite":
                run(f"sqlite:///{Path(tmp) / 'hub.db'}", Path(tmp), args.cases, args.runs)
            else:
                with postgres_schema("benchevaluation") as url:
                    run(url, Path(tmp), args.cases, args.runs)


if __name__ == "__main__":
    main()
