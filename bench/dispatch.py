"""Dispatch benchmark: records in through the HTTP API, out through the file adapter.

For each database (SQLite with WAL + synchronous=FULL; PostgreSQL with its defaults) and in the
same run:

* baseline — the same number of plain single-row insert-and-update transactions through
  SQLAlchemy on the same database, one after the other (one durable commit each);
* intake   — ``hub serve --workers 0`` as a real process; concurrent HTTP clients POST records
  (unique Idempotency-Keys); accepted/s = records / wall time of the whole load;
* CPU      — the CPU milliseconds per record of ``hub serve`` during the intake load, and of
  ``hub worker`` from its first delivered record to the last (its start-up left out);
* delivery — ``hub worker`` drains the accepted records through the file adapter (fsync per file,
  one directory fsync per batch); delivered/s = records / time until the store counts them all
  delivered;
* mixed    — ``hub serve`` with its workers, loaded the same way: accepted/s and the time until
  everything is delivered.

The hub processes load every plugin that is installed (with ``make install``, all bundled
ones); ``--core-only`` blocks them (``HUB_DISABLE_PLUGINS``) to measure the core alone. With
``--mix file`` (default) every record goes to the file adapter and no plugin is configured, so
checks that bind only records routed to a plugin do not run; ``--mix production`` sends half
the records (portal Anmeldungen) through the XMeld intake check and over XTA 2 to ``hub xta
simulator`` (a process of its own, with a simulated Meldebehörde), the other half
(Gewerbeanmeldungen) to the file adapter, with the catalogue configured. Koffer applications
(tus uploads first) are not part of the mix. Whole runs, medians over --repeat runs.
Usage::

    python bench/dispatch.py [--records 20000] [--repeat 3] [--concurrency 128]
                             [--databases sqlite,postgresql] [--workers 2] [--core-only]
                             [--mix file|production]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from sqlalchemy import Column, Integer, MetaData, String, Table, update

from hub.core.store import Store
from hub.testing import postgres_schema

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789"
SAMPLE = json.loads((ROOT / "examples" / "sample-record.json").read_text())
# The production mix: half Anmeldungen from the portal (XMeld check, delivery over XTA and to
# the file adapter), half Gewerbeanmeldungen (file adapter); the catalogue enriches both.
MIX = {
    "file": [SAMPLE],
    "production": [
        SAMPLE | {"channel": "portal"},
        json.loads((ROOT / "examples" / "gewerbe-record.json").read_text()) | {"channel": "portal"},
    ],
}
BODIES: list[bytes] = [json.dumps(SAMPLE).encode()]
# Names for the production mix's Anmeldungen: each applicant, partner and child gets a family
# name (60 of them, repeating as they do in a city), three given names unique to them (over
# 64,000 people) and a birth date, so the XMeld check keeps meeting values it has not seen.
FAMILY = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler",
    "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang",
    "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Yılmaz", "Kaya", "Nowak", "Kowalski",
    "Łukasiewicz", "Öztürk", "Dąbrowski", "Đorđević", "Popescu", "Ahmadi",
]  # fmt: skip
GIVEN = [
    "Anna", "Lena", "Mia", "Emma", "Sophie", "Hannah", "Lea", "Marie", "Lina", "Ella", "Ben",
    "Paul", "Leon", "Finn", "Noah", "Elias", "Felix", "Jonas", "Luis", "Lukas", "Zoë", "Łucja",
    "Ayşe", "Mehmet", "Jürgen", "Renée", "Dörte", "Björn", "Søren", "Małgorzata", "Fatma", "Ömer",
    "Ilse", "Gerd", "Heike", "Uwe", "Karin", "Sven", "Agnieszka", "Dragan",
]  # fmt: skip
MIXED: list[dict] = [SAMPLE]
VARIED: set[int] = set()  # indexes into BODIES' source mix whose names vary per record


def person(n: int) -> dict[str, str]:
    """Family name, given names and birth date of the n-th person."""
    k = (n * 7919) % len(GIVEN) ** 3  # 7919 is prime: n → k is one-to-one below 64,000
    given = " ".join(GIVEN[(k // len(GIVEN) ** i) % len(GIVEN)] for i in range(3))
    born = datetime.date(1940, 1, 1) + datetime.timedelta(days=(n * 7919) % 25_000)
    return {"family_name": FAMILY[n % len(FAMILY)], "given_names": given,
            "date_of_birth": born.isoformat()}  # fmt: skip


def named(record: dict, n: int) -> dict:
    """A copy of the Anmeldung ``record`` whose applicant, partner and children are the n-th
    record's own people."""
    record = copy.deepcopy(record)
    record["applicant"].update(person(3 * n))
    payload = record["payload"]
    if "partner" in payload:
        payload["partner"].update(person(3 * n + 1))
    for child in payload.get("children", []):
        child.update(person(3 * n + 2))
    return record


def body(n: int, mix: list[dict]) -> bytes:
    """The n-th record of ``mix``: Anmeldungen with the names and dates of their own."""
    if n % len(mix) not in VARIED:
        return BODIES[n % len(BODIES)]
    return json.dumps(named(mix[n % len(mix)], n)).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh database per run: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'hub.db'}"
    else:
        with postgres_schema("bench") as url:
            yield url


def write_config(
    path: Path, url: str, outbox: Path, port: int, workers: int, xta_port: int | None = None
) -> None:
    """The hub's config; with ``xta_port`` the production mix (Anmeldungen to the XMeld adapter
    over XTA 2, with its inbox poller; the catalogue configured), else every record to the file
    adapter."""
    routes = '[[routes]]\nadapters = ["file"]\n'
    extra = ""
    if xta_port is not None:
        gateway = f"http://127.0.0.1:{xta_port}"
        xta = (f'management_url = "{gateway}/management"\nsend_url = "{gateway}/send"\n'
               f'msgbox_url = "{gateway}/msgbox"\naccount = "psw:05111999"\n')  # fmt: skip
        routes = '[[routes]]\nleika = "991150*"\nadapters = ["xmeld"]\n' + routes
        extra = f"""
[adapters.xmeld]
{xta}author_name = "Serviceportal (bench)"
author_email = "hub@bench.invalid"
test = true
[adapters.xmeld.author_address]
strasse = "Marktplatz"
hausnummer = "1"
postleitzahl = "40213"
wohnort = "Düsseldorf"
[pollers.xmeld_inbox]
{xta}interval = 1.0
[plugins.ozg_catalog]
pvog_enabled = false
"""
    path.write_text(f"""
[server]
port = {port}
[store]
url = "{url}"
[delivery]
workers = {workers}
[logging]
level = "warning"
[[clients]]
name = "bench"
token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"
scopes = ["records:write", "records:read"]
municipalities = ["*"]
{routes}
[adapters.file]
directory = "{outbox}"
{extra}""")


# Environment of the hub processes (``--core-only`` adds HUB_DISABLE_PLUGINS).
HUB_ENV: dict[str, str] = dict(os.environ)


def bundled_plugins() -> list[str]:
    """Entry-point names of the plugins under plugins/ (each a distribution of its own)."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    names: list[str] = []
    for project in sorted(root.glob("plugins/*/pyproject.toml")):
        data = tomllib.loads(project.read_text(encoding="utf-8"))
        names += list(data.get("project", {}).get("entry-points", {}).get("hub", {}))
    return names


def spawn(config: Path, *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "--config", str(config), *args],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=HUB_ENV,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def wait_ready(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("hub serve did not become ready")


async def load(port: int, records: int, concurrency: int) -> float:
    """POST ``records`` submissions with ``concurrency`` clients; returns seconds taken."""
    run = uuid.uuid4().hex[:8]
    bodies = [body(n, MIXED) for n in range(records)]  # made before the clock starts
    numbers = iter(range(records))
    failures = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal failures
            for n in numbers:
                headers = {
                    "Authorization": f"Bearer {TOKEN}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"{run}-{n}",
                }
                async with session.post(
                    f"http://127.0.0.1:{port}/v1/records",
                    data=bodies[n],
                    headers=headers,
                ) as r:
                    await r.read()
                    failures += r.status != 202

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} submissions were not accepted")
    return elapsed


def delivered(store: Store) -> int:
    return store.count_by_status().get("delivered", 0)


def wait_delivered(store: Store, records: int, started: float) -> float:
    while delivered(store) < records:
        time.sleep(0.1)
    return time.perf_counter() - started


def baseline(url: str, records: int) -> float:
    """Plain single-row insert-and-update transactions; returns transactions per second."""
    store = Store(url)  # same engine set-up as the hub: WAL + synchronous=FULL on SQLite
    table = Table(
        "bench_baseline",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("status", String(16)),
        Column("data", String),
    )
    table.create(store.engine, checkfirst=True)
    data = json.dumps(SAMPLE)
    started = time.perf_counter()
    for n in range(records):
        with store.engine.begin() as conn:
            conn.execute(table.insert().values(id=n, status="accepted", data=data))
            conn.execute(update(table).where(table.c.id == n).values(status="delivered"))
    elapsed = time.perf_counter() - started
    store.dispose()
    return records / elapsed


def check_files(outbox: Path, expected: int) -> None:
    files = sum(1 for p in outbox.iterdir() if not p.name.startswith("."))
    if files != expected:
        raise RuntimeError(f"expected {expected} delivered files, found {files}")


def one_run(kind: str, records: int, concurrency: int, workers: int, mix: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        work = Path(tmp)
        with database(kind, work) as url:
            result = {"baseline_tx_s": baseline(url, records)}
            port = free_port()
            cfg = work / "hub.toml"
            log = work / "hub.log"
            gateway = None
            xta_port = None
            if mix == "production":  # the Meldebehörde's gateway: a process of its own
                xta_port = free_port()
                gateway = spawn(cfg, "xta", "simulator", "--port", str(xta_port),
                                "--account", "psw:05111999", "--office", "ags:05111000",
                                log=log)  # fmt: skip
            write_config(cfg, url, work / "outbox", port, workers, xta_port)
            store = Store(url)

            serve = spawn(cfg, "serve", "--workers", "0", log=log)
            asyncio.run(wait_ready(port))
            cpu = cpu_seconds(serve.pid)
            result["accepted_s"] = records / asyncio.run(load(port, records, concurrency))
            result["serve_cpu_ms"] = 1000 * (cpu_seconds(serve.pid) - cpu) / records
            stop(serve)

            started = time.perf_counter()
            worker = spawn(cfg, "worker", log=log)
            while not (first := delivered(store)):  # started up: count CPU from here
                time.sleep(0.01)
            cpu = cpu_seconds(worker.pid)
            result["delivered_s"] = records / wait_delivered(store, records, started)
            result["worker_cpu_ms"] = (
                1000 * (cpu_seconds(worker.pid) - cpu) / max(records - first, 1)
            )
            stop(worker)

            serve = spawn(cfg, "serve", log=log)
            asyncio.run(wait_ready(port))
            started = time.perf_counter()
            result["mixed_accepted_s"] = records / asyncio.run(load(port, records, concurrency))
            result["mixed_end_to_end_s"] = records / wait_delivered(store, 2 * records, started)
            stop(serve)
            if gateway is not None:
                stop(gateway)
            counts = store.count_by_status()
            store.dispose()
            if counts.get("dead_letter"):
                raise RuntimeError(f"{counts['dead_letter']} deliveries dead-lettered (see {log})")
            check_files(work / "outbox", 2 * records)  # every record also goes to the file adapter
            return result


def figure(key: str, value: float) -> str:
    """Rates as whole numbers, CPU milliseconds per record to two places."""
    return f"{value:.2f}" if key.endswith("_ms") else f"{value:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--core-only", action="store_true", help="block the bundled plugins")
    parser.add_argument(
        "--mix",
        choices=sorted(MIX),
        default="file",
        help="file: the sample record to the file adapter; production: Anmeldungen over XMeld/XTA "
        "and Gewerbeanmeldungen to the file adapter, the catalogue configured",
    )
    args = parser.parse_args()
    BODIES[:] = [json.dumps(b).encode() for b in MIX[args.mix]]
    MIXED[:] = MIX[args.mix]
    VARIED.clear()
    if args.mix == "production":
        VARIED.add(0)  # the Anmeldungen
    if args.core_only:
        HUB_ENV["HUB_DISABLE_PLUGINS"] = ",".join(bundled_plugins())
    else:
        HUB_ENV.pop("HUB_DISABLE_PLUGINS", None)
    print(
        f"records={args.records} repeat={args.repeat} concurrency={args.concurrency} "
        f"workers={args.workers} cpus={os.cpu_count()} mix={args.mix} "
        f"plugins={'blocked' if args.core_only else 'as installed'}",
        flush=True,
    )
    keys = ("baseline_tx_s", "accepted_s", "serve_cpu_ms", "delivered_s", "worker_cpu_ms",
            "mixed_accepted_s", "mixed_end_to_end_s")  # fmt: skip
    print("| database | " + " | ".join(keys) + " | intake/baseline |")
    print("|---" * (len(keys) + 2) + "|")
    for kind in args.databases.split(","):
        runs = []
        for n in range(args.repeat):
            runs.append(one_run(kind, args.records, args.concurrency, args.workers, args.mix))
            print(
                f"  {kind} run {n + 1}: "
                + ", ".join(f"{k}={figure(k, v)}" for k, v in runs[-1].items()),
                file=sys.stderr,
                flush=True,
            )
        med = {k: statistics.median(r[k] for r in runs) for k in keys}
        ratio = statistics.median(r["accepted_s"] / r["baseline_tx_s"] for r in runs)
        print(
            f"| {kind} | " + " | ".join(figure(k, med[k]) for k in keys) + f" | {ratio:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
