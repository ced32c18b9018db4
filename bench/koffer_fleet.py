"""A pop-up day's koffers uploading at once (issue 17, item 3): N koffers × M MB through tus.

Every koffer is its own registered device and its own tuspy client (5 MB chunks, SHA-256
``Upload-Checksum`` on every PATCH) in a thread of this process; all start together. The server is
a real ``hub serve`` process on loopback (SQLite, every bundled plugin installed, the
bundesdruckerei plugin configured: checksums verified, AES-256-GCM at rest, the completion hash).
The baseline, in the same run and with the same clients, is a bare streaming endpoint in its own
uvicorn process that only counts bytes: the most any tus server reaches with these clients here.

Measured per run, medians over ``--runs`` whole runs:

- fleet: aggregate MB/s (all bytes / from the common start to the last answer), per-koffer MB/s
  and fairness (slowest koffer / median koffer), for the hub and for the bare endpoint;
- single: one koffer alone, M MB, hub and bare endpoint;
- the hub's peak RSS growth during the fleet upload (VmHWM reset before it, VmRSS before as base).

    python bench/koffer_fleet.py [--koffers 20] [--mb 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dispatch import cpu_seconds  # bench/dispatch.py: a hub process's CPU time
from koffer_upload import (  # bench/koffer_upload.py: one koffer, the same endpoints
    CHUNK,
    HUB_URL,
    PORT,
    SINK_URL,
    hub_config,
    start_sink,
    status_kb,
    timed_upload,
    wait_for,
)

ARS = "051110000000"


def fleet(
    url: str, tokens: list[str | None], data: bytes, tag: str, server: int
) -> dict[str, float]:
    """All koffers at once: aggregate and per-koffer MB/s, and the CPU milliseconds per MB the
    server and the clients (this process) spent."""
    mb = len(data) / 2**20
    start = threading.Barrier(len(tokens) + 1)
    seconds: list[float] = [0.0] * len(tokens)
    errors: list[BaseException] = []

    def koffer(i: int) -> None:
        start.wait()
        try:
            seconds[i] = timed_upload(url, tokens[i], data, f"{tag}-koffer-{i:04d}")
        except BaseException as exc:  # reported below, after every thread ended
            errors.append(exc)

    threads = [threading.Thread(target=koffer, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    start.wait()
    t = time.perf_counter()
    server_cpu, client_cpu = cpu_seconds(server), cpu_seconds(os.getpid())
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t
    server_cpu = cpu_seconds(server) - server_cpu
    client_cpu = cpu_seconds(os.getpid()) - client_cpu
    if errors:
        raise SystemExit(f"{len(errors)} uploads failed: {errors[0]!r}")
    rates = [mb / s for s in seconds]
    return {
        "aggregate": mb * len(tokens) / wall,
        "median": statistics.median(rates),
        "slowest": min(rates),
        "fairness": min(rates) / statistics.median(rates),
        "server_cpu_ms_per_mb": server_cpu * 1000 / (mb * len(tokens)),
        "client_cpu_ms_per_mb": client_cpu * 1000 / (mb * len(tokens)),
    }


def start_hub(work: Path, koffers: int) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "BENCH_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    hub = [sys.executable, "-m", "hub", "--config", str(hub_config(work))]
    subprocess.run([*hub, "db", "upgrade"], env=env, check=True, capture_output=True)
    registering = [
        subprocess.Popen(
            [*hub, "koffer", "register", "--name", f"koffer-{i:02d}", "--municipality", ARS],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(koffers)
    ]
    tokens = [p.communicate()[0].strip() for p in registering]
    if any(p.returncode for p in registering):
        raise SystemExit("registering the koffers failed")
    proc = subprocess.Popen(
        [*hub, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for(f"http://127.0.0.1:{PORT}/readyz")
    return proc, tokens


def one_run(run: int, koffers: int, data: bytes) -> dict[str, float]:
    mb = len(data) / 2**20
    row: dict[str, float] = {}
    with tempfile.TemporaryDirectory(
        dir=Path.cwd() / "var" if (Path.cwd() / "var").is_dir() else None
    ) as tmp:
        work = Path(tmp)
        sink = start_sink(work)
        try:
            url = SINK_URL
            timed_upload(url, None, data[: 2**20], "warmup-sink")
            row["bare_single"] = mb / timed_upload(url, None, data, "bare-single")
            bare = fleet(url, [None] * koffers, data, f"bare-{run}", sink.pid)
            row.update({f"bare_{k}": v for k, v in bare.items()})
        finally:
            sink.terminate()
            sink.wait(10)
        proc, tokens = start_hub(work, koffers)
        try:
            url = HUB_URL
            for token in tokens:  # imports, pools, each device's first lookup
                timed_upload(url, token, data[: 2**20], f"warmup-{token[-8:]}")
            row["hub_single"] = mb / timed_upload(url, tokens[0], data, f"single-{run:04d}")
            base_kb = status_kb(proc.pid, "VmRSS")
            Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # reset the peak (VmHWM)
            ours = fleet(url, tokens, data, f"hub-{run}", proc.pid)
            row["rss_growth_mb"] = (status_kb(proc.pid, "VmHWM") - base_kb) / 1024
            row.update({f"hub_{k}": v for k, v in ours.items()})
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    row["fleet_ratio"] = row["hub_aggregate"] / row["bare_aggregate"]
    row["single_ratio"] = row["hub_single"] / row["bare_single"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--koffers", type=int, default=20)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = os.urandom(args.mb * 2**20)
    rows = []
    for run in range(args.runs):
        row = one_run(run, args.koffers, data)
        rows.append(row)
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}

    def runs(key: str) -> str:
        return " · ".join(f"{r[key]:.2f}" for r in rows)

    print(f"\n{args.koffers} koffers × {args.mb} MB, {CHUNK // 2**20} MB chunks, SHA-256 checks,")
    print(f"medians of {args.runs} runs (MB/s):")
    print(f"  fleet aggregate   hub {med['hub_aggregate']:.1f}   bare {med['bare_aggregate']:.1f}")
    print(f"    hub / bare      {med['fleet_ratio']:.2f}  (runs {runs('fleet_ratio')})")
    print(
        f"  fairness (slowest / median koffer)  hub {med['hub_fairness']:.2f} "
        f"(runs {runs('hub_fairness')})   bare {med['bare_fairness']:.2f}"
    )
    print(f"  hub peak RSS growth during the fleet  {med['rss_growth_mb']:.1f} MB")
    print(
        "  CPU ms per MB during the fleet: hub "
        f"{med['hub_server_cpu_ms_per_mb']:.2f} + clients {med['hub_client_cpu_ms_per_mb']:.2f}; "
        f"bare {med['bare_server_cpu_ms_per_mb']:.2f} + clients "
        f"{med['bare_client_cpu_ms_per_mb']:.2f} ({os.cpu_count()} CPUs)"
    )
    print(f"  single koffer     hub {med['hub_single']:.1f}   bare {med['bare_single']:.1f}")
    print(f"    hub / bare      {med['single_ratio']:.2f}  (runs {runs('single_ratio')})")


if __name__ == "__main__":
    main()
