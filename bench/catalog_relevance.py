"""Catalogue search relevance: top-1 and top-3 hit rates on citizen queries.

Runs the query sets in bench/catalog_queries.json (the main set, at least 60 queries) and
bench/catalog_queries_holdout.json (written after the ranking, never used to tune it) against
the real catalogue (``$HUB_SHARED_DIR/catalog/leika_kdn_2019.csv``, default ../shared).

    python bench/catalog_relevance.py [--verbose]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from hub_ozg_catalog.importers import read_leika_csv
from hub_ozg_catalog.search import SearchIndex

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HUB_SHARED_DIR", ROOT.parent / "shared"))


def evaluate(index: SearchIndex, path: Path, verbose: bool) -> tuple[int, int, int]:
    queries = json.loads(path.read_text(encoding="utf-8"))["queries"]
    top1 = top3 = 0
    for q in queries:
        keys = [h.key for h in index.search(q["q"], 3)]
        hit1 = bool(keys) and keys[0] in q["accept"]
        hit3 = any(k in q["accept"] for k in keys)
        top1 += hit1
        top3 += hit3
        if verbose or not hit3:
            names = [h.name for h in index.search(q["q"], 3)]
            print(f"  {'ok  ' if hit3 else 'MISS'} {q['q']!r} → {names}")
    return len(queries), top1, top3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    _, rows = read_leika_csv(SHARED / "catalog" / "leika_kdn_2019.csv")
    index = SearchIndex(rows)
    print(f"catalogue: {len(rows)} services")
    for name in ("catalog_queries.json", "catalog_queries_holdout.json"):
        n, top1, top3 = evaluate(index, ROOT / "bench" / name, args.verbose)
        print(
            f"{name}: {n} queries, top-1 {top1}/{n} = {top1 / n:.1%}, "
            f"top-3 {top3}/{n} = {top3 / n:.1%}"
        )


if __name__ == "__main__":
    main()
