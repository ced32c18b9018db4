"""Scale-out on PostgreSQL (issue 17, item 2): end-to-end records per second with 1, 2 and 4
processes — one ``hub serve`` (intake and its delivery threads) plus ``hub worker`` processes —
on one PostgreSQL, woken by LISTEN/NOTIFY.

Each run: a fresh schema; the processes start and wait idle (listening); concurrent HTTP
clients POST ``--records`` records to ``hub serve``; end to end/s = records / time until the
store counts all of them delivered (file adapter, fsync per file). Every bundled plugin is
installed (none configured; ``--mix production`` is bench/dispatch.py's business). Baseline in
the same run: plain single-row insert-and-update transactions on the same database. Runs of the
process counts alternate, so drift hits all; medians over ``--repeat``.

    python bench/processes.py [--records 10000] [--repeat 3] [--counts 1,2,4] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dispatch as common  # bench/dispatch.py: config, processes, load, baseline

from hub.core.store import Store


def one_run(processes: int, records: int, concurrency: int, threads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        work = Path(tmp)
        with common.database("postgresql", work) as url:
            result = {"baseline_tx_s": common.baseline(url, records)}
            port = common.free_port()
            cfg = work / "hub.toml"
            common.write_config(cfg, url, work / "outbox", port, threads)
            log = work / "hub.log"
            store = Store(url)
            procs = [common.spawn(cfg, "serve", log=log)]
            asyncio.run(common.wait_ready(port))
            procs += [common.spawn(cfg, "worker", log=log) for _ in range(processes - 1)]
            deadline = time.monotonic() + 60
            while log.read_text().count("delivery_listener_connected") < processes:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not every process listens (see {log})")
                time.sleep(0.1)
            started = time.perf_counter()
            result["accepted_s"] = records / asyncio.run(common.load(port, records, concurrency))
            result["end_to_end_s"] = records / common.wait_delivered(store, records, started)
            for proc in procs:
                common.stop(proc)
            store.dispose()
            common.check_files(work / "outbox", records)
            return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="delivery threads per process")
    parser.add_argument("--counts", default="1,2,4")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    # Info logs: the bench waits for each process's "delivery_listener_connected".
    common.HUB_ENV["HUB_LOGGING__LEVEL"] = "info"
    print(f"records={args.records} repeat={args.repeat} threads/process={args.threads} "
          f"cpus={os.cpu_count()} plugins=as installed")  # fmt: skip
    runs: dict[int, list[dict[str, float]]] = {c: [] for c in counts}
    for n in range(args.repeat):
        for c in counts:
            runs[c].append(one_run(c, args.records, args.concurrency, args.threads))
            print(f"  run {n + 1}, {c} process(es): "
                  + ", ".join(f"{k}={v:.0f}" for k, v in runs[c][-1].items()),
                  file=sys.stderr, flush=True)  # fmt: skip
    one = statistics.median(r["end_to_end_s"] for r in runs[counts[0]])
    print("| processes | baseline tx/s | accepted/s | end to end/s | × the first |")
    print("|---|---|---|---|---|")
    for c in counts:
        med = {k: statistics.median(r[k] for r in runs[c]) for k in runs[c][0]}
        print(f"| {c} | {med['baseline_tx_s']:.0f} | {med['accepted_s']:.0f} | "
              f"{med['end_to_end_s']:.0f} | {med['end_to_end_s'] / one:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
