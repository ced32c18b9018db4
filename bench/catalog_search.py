"""Catalogue search latency and import time on the full 4,813-service catalogue.

Search: median and p95 over every query of both query sets, repeated; baseline in the same run:
a plain linear scan with rapidfuzz (``process.extract`` with WRatio over all service names).
Import: ``hub catalog import`` of the full CSV into a fresh SQLite store, as a whole command.

    python bench/catalog_search.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from hub_ozg_catalog.importers import read_leika_csv
from hub_ozg_catalog.search import SearchIndex

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HUB_SHARED_DIR", ROOT.parent / "shared"))
CSV = SHARED / "catalog" / "leika_kdn_2019.csv"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    _, rows = read_leika_csv(CSV)
    started = time.perf_counter()
    index = SearchIndex(rows)
    build = time.perf_counter() - started
    names = [r["name"] for r in rows]
    queries = [
        q["q"]
        for f in ("catalog_queries.json", "catalog_queries_holdout.json")
        for q in json.loads((ROOT / "bench" / f).read_text())["queries"]
    ]
    ours: list[float] = []
    baseline: list[float] = []
    for _ in range(args.repeat):
        for q in queries:
            t = time.perf_counter()
            index.search(q, 10)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            process.extract(q, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=10)
            baseline.append(time.perf_counter() - t)
    ms = 1000
    print(
        f"{len(rows)} services, {len(queries)} queries x {args.repeat}; index build {build:.2f} s"
    )
    print(
        f"search   median {statistics.median(ours) * ms:.2f} ms  p95 "
        f"{percentile(ours, 0.95) * ms:.2f} ms"
    )
    print(
        f"baseline median {statistics.median(baseline) * ms:.2f} ms  p95 "
        f"{percentile(baseline, 0.95) * ms:.2f} ms  (rapidfuzz linear scan)"
    )
    med_ratio = statistics.median(baseline) / statistics.median(ours)
    p95_ratio = percentile(baseline, 0.95) / percentile(ours, 0.95)
    print(f"ratio (baseline / ours): median {med_ratio:.1f}x, p95 {p95_ratio:.1f}x")
    imports = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "hub.toml"
            cfg.write_text(f'[store]\nurl = "sqlite:///{tmp}/hub.db"\n')
            subprocess.run(
                [sys.executable, "-m", "hub", "--config", str(cfg), "db", "upgrade"],
                check=True,
                capture_output=True,
            )
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "hub", "--config", str(cfg), "catalog", "import", str(CSV)],
                check=True,
                capture_output=True,
            )
            imports.append(time.perf_counter() - t)
    print(
        f"import of the full CSV (whole `hub catalog import` command): median "
        f"{statistics.median(imports):.2f} s over {len(imports)} runs"
    )


if __name__ == "__main__":
    main()
