"""Soak run of the `make run` stack (issue 17, item 4): a realistic mix at 10× a large city's peak.

The hub runs as `make run` runs it (`hub serve` with `examples/hub.dev.toml`: SQLite, every
bundled plugin, the embedded XTA gateway with a simulated Meldebehörde, the passport software's
reference receiver, the FIT-Connect simulator, the ZMS double), its `var/` in a directory of its
own. An open-loop generator (Poisson arrivals, so a slow hub does not slow the load down) sends:

- portal Anmeldungen (`examples/sample-record.json`, channel portal; half of them ask for a
  letter) — XMeld 1704 over XTA 2, answers polled from the gateway;
- Gewerbeanmeldungen over the API (`examples/gewerbe-record.json`) — out through FIT-Connect,
  back in through the subscriber channel as a second record;
- Bürgerkoffer passport applications: a photo, two fingerprints and a signature over tus
  (tuspy, SHA-256 checksums), then the application — delivered to the receiver, which calls back,
  after which the hub destroys the encrypted data;
- appointments: free slots in a random week of the next four months, a reservation, and (nine in
  ten) its confirmation.

The rate: Düsseldorf counts about 700,000 contacts a year at its Bürgerbüros
(``../shared/research/mobile-offices.md`` §3.1). Over 250 opening days of 8 hours that is 350 an
hour; with the busiest hour taken as three times the average (an assumption: no source gives
the hourly profile), the peak is about 1,050 an hour, 0.29 a second. Ten times that is 2.9
applications a second, every one of them through the hub (the real share is lower), split
40 % Anmeldungen, 10 % Gewerbe, 20 % koffer, 30 % appointments.

Every ``--sample`` seconds the hub process's RSS, open file descriptors and threads are read
from /proc, with the size of the koffer data directory. Reported: intake latency (the request that
hands an application to the hub: `POST /v1/records`, `POST /v1/koffer/applications`,
`POST /v1/appointments`) as p50/p99/max overall and per fifth of the run; memory and open files in
the first and last fifth and their least-squares slope over the run after the first fifth
(warm-up); what became of every record at the end (delivered, in flight, dead letters), and
every request that failed.

    python bench/soak.py [--minutes 30] [--rate 2.9] [--sample 10]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import koffer_session  # noqa: E402  the development koffer: its captures, uploads, application
from dispatch import stop  # noqa: E402  bench/dispatch.py: SIGTERM, then kill after a minute

HUB = "http://127.0.0.1:8080"
TOKEN = "dev-token-not-for-production"
PEAK_PER_SECOND = 700_000 / 250 / 8 * 3 / 3600  # Düsseldorf contacts, see the docstring
MIX = {"anmeldung": 0.4, "gewerbe": 0.1, "koffer": 0.2, "appointment": 0.3}
KOFFERS = 6
# How `hub serve` is started; HUB_SOAK_COMMAND replaces `hub` (e.g. to run it under a tracer).
SERVE = os.environ.get("HUB_SOAK_COMMAND", str(ROOT / ".venv" / "bin" / "hub")).split()


# The counterparts `make run` embeds in the hub's process. They keep what they receive in
# memory (the XTA gateway every message, the Meldebehörde every case, the ZMS double every
# booking), as the real systems keep it in their databases; here they run in a second
# `hub serve` so that the hub's own memory is measured apart from theirs.
SIMULATORS = (
    "plugins.xmeld.simulator",
    "plugins.bundesdruckerei.receiver",
    "plugins.fitconnect.simulator",
    "plugins.appointments.simulator",
)
SIMULATOR_NEEDS = (
    "logging",
    "plugins.bundesdruckerei",
    "plugins.appointments",
    "plugins.appointments.offices",
    "plugins.appointments.services",
)
SIMULATOR_BASE = """
[server]
host = "127.0.0.1"
port = 8079

[store]
url = "sqlite:///var/simulators.db"

[[routes]]
adapters = ["file"]

[adapters.file]
directory = "var/simulators-outbox"
"""


def tables(text: str) -> list[tuple[str, str]]:
    """A TOML file cut at its table headers: (table name, its text), in order."""
    found: list[tuple[str, str]] = []
    name, lines = "", []
    for line in text.splitlines(keepends=True):
        header = re.match(r"\[\[?([\w.]+)\]\]?", line)
        if header:
            found.append((name, "".join(lines)))
            name, lines = header.group(1), []
        lines.append(line)
    found.append((name, "".join(lines)))
    return found


def dev_configs(work: Path) -> tuple[Path, Path]:
    """examples/hub.dev.toml split in two: the hub without the simulators, and a second
    instance that runs only them; both log JSON (what ops would keep) and run in ``work``,
    so their var/ lands there."""
    text = (ROOT / "examples" / "hub.dev.toml").read_text()
    text = text.replace('format = "console"', 'format = "json"')
    text = text.replace('"examples/', f'"{ROOT}/examples/')
    parts = tables(text)
    hub = "".join(body for name, body in parts if name not in SIMULATORS)
    simulators = SIMULATOR_BASE + "".join(
        body for name, body in parts if name in SIMULATORS + SIMULATOR_NEEDS
    )
    (work / "hub.toml").write_text(hub)
    (work / "simulators.toml").write_text(simulators)
    return work / "hub.toml", work / "simulators.toml"


class Stats:
    """Latencies and outcomes, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intake: list[tuple[float, float]] = []  # (seconds since start, latency)
        self.outcomes: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    def answer(self, kind: str, response: httpx.Response, ok: tuple[int, ...]) -> None:
        with self.lock:
            if response.status_code in ok:
                self.outcomes[f"{kind} {response.status_code}"] += 1
            else:
                self.failures[f"{kind} {response.status_code} {response.text[:120]}"] += 1

    def latency(self, since: float, seconds: float) -> None:
        with self.lock:
            self.intake.append((since, seconds))

    def fail(self, kind: str, exc: BaseException) -> None:
        with self.lock:
            self.failures[f"{kind} {type(exc).__name__}: {str(exc)[:120]}"] += 1


class Load:
    """The four kinds of traffic, each a function run on a pool thread."""

    def __init__(self, tokens: list[str], stats: Stats, start: float):
        self.tokens = tokens
        self.stats = stats
        self.start = start
        self.local = threading.local()
        self.anmeldung = json.loads((ROOT / "examples" / "sample-record.json").read_text())
        self.anmeldung["channel"] = "portal"
        self.anmeldung.pop("location")
        self.gewerbe = json.loads((ROOT / "examples" / "gewerbe-record.json").read_text())
        self.captures = koffer_session.captures()  # synthetic, made once

    def client(self) -> httpx.Client:
        if not hasattr(self.local, "client"):
            self.local.client = httpx.Client(
                base_url=HUB, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            )
        return self.local.client

    def intake(
        self, kind: str, call: Callable[[], httpx.Response], ok: tuple[int, ...]
    ) -> httpx.Response:
        t0 = time.perf_counter()
        response = call()
        self.stats.latency(t0 - self.start, time.perf_counter() - t0)
        self.stats.answer(kind, response, ok)
        return response

    def run_anmeldung(self) -> None:
        record = copy.deepcopy(self.anmeldung)
        if random.random() < 0.5:
            record["notifications"] = {"channels": ["letter"], "consent": True}
        self.intake(
            "anmeldung",
            lambda: self.client().post(
                "/v1/records", json=record, headers={"Idempotency-Key": uuid.uuid4().hex}
            ),
            (202,),
        )

    def run_gewerbe(self) -> None:
        self.intake(
            "gewerbe",
            lambda: self.client().post(
                "/v1/records", json=self.gewerbe, headers={"Idempotency-Key": uuid.uuid4().hex}
            ),
            (202,),
        )

    def run_koffer(self) -> None:
        token = random.choice(self.tokens)
        case = f"soak-{uuid.uuid4()}"
        attachments = koffer_session.upload_all(HUB, token, case, self.captures)
        application = koffer_session.passport_application("051110000000", attachments)
        self.intake(
            "koffer",
            lambda: self.client().post(
                "/v1/koffer/applications",
                json=application,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": case},
            ),
            (202,),
        )

    def run_appointment(self) -> None:
        c = self.client()
        office, leika = random.choice([("10", "99102013104000"), ("10", "99115005104000")])
        first = date.today() + timedelta(days=random.randrange(1, 120))
        found = c.get(
            "/v1/appointments/slots",
            params={
                "office": office,
                "service": [leika],
                "from": first.isoformat(),
                "to": (first + timedelta(days=7)).isoformat(),
            },
        )
        self.stats.answer("slots", found, (200,))
        if found.status_code != 200 or not found.json()["slots"]:
            return
        start = random.choice(found.json()["slots"])
        body = {"office": office, "services": [{"leika": leika}], "start": start}
        made = self.intake("reserve", lambda: c.post("/v1/appointments", json=body), (201, 409))
        if made.status_code == 201 and random.random() < 0.9:
            done = c.post(
                f"/v1/appointments/{made.json()['id']}/confirm",
                json={"family_name": "Mustermann", "email": "erika@example.invalid"},
            )
            self.stats.answer("confirm", done, (200,))


def proc_sample(pid: int, simulators: int, work: Path) -> dict[str, float]:
    """The hub's memory, open files and threads; the simulators' memory; data on disk."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    kb = {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "RssAnon", "RssFile")}
    koffer = sum(f.stat().st_size for f in (work / "var" / "koffer").rglob("*") if f.is_file())
    return {
        "rss_mb": kb["VmRSS"],
        "anon_mb": kb["RssAnon"],
        "file_mb": kb["RssFile"],
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
        "koffer_mb": koffer / 2**20,
        "db_mb": sum(f.stat().st_size for f in (work / "var").glob("hub.db*")) / 2**20,
        "simulators_mb": rss_mb(simulators),
    }


def rss_mb(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else float("nan")


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den * 3600 if den else 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def record_statuses(c: httpx.Client) -> Counter[str]:
    counts: Counter[str] = Counter()
    for status in ("accepted", "delivering", "delivered", "dead_letter"):
        cursor = None
        while True:
            params = {"status": status, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = c.get("/v1/records", params=params).json()
            counts[status] += len(page["items"])
            cursor = page["next"]
            if not cursor:
                break
    return counts


def log_summary(path: Path) -> str:
    """How many lines the hub logged at each level, and which events were not info."""
    levels: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            levels["not json"] += 1
            continue
        levels[entry.get("level", "?")] += 1
        if entry.get("level") not in ("info", "debug"):
            events[f"{entry.get('level')} {entry.get('event')}"] += 1
    return (
        "hub log: "
        + ", ".join(f"{k} {v}" for k, v in levels.most_common())
        + "".join(f"\n  {n} × {what}" for what, n in events.most_common(10))
    )


def start(command: list[str], work: Path, log: Path, ready: str) -> subprocess.Popen:
    proc = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=work)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(ready, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"{' '.join(command)} did not become ready; see {log}")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=round(10 * PEAK_PER_SECOND, 1))
    parser.add_argument("--sample", type=float, default=10)
    parser.add_argument("--keep", action="store_true", help="Keep the work directory")
    args = parser.parse_args()
    # Stopped early (kill, Ctrl-C): stop the hub too; background runs ignore SIGINT.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    work = Path(tempfile.mkdtemp(prefix="hub-soak-"))
    config, sim_config = dev_configs(work)
    cli = str(ROOT / ".venv" / "bin" / "hub")
    hub = [cli, "--config", str(config)]
    for setup in ([cli, "--config", str(sim_config), "db", "upgrade"], [*hub, "db", "upgrade"]):
        subprocess.run(setup, check=True, capture_output=True, cwd=work)
    tokens = []
    for i in range(KOFFERS):
        made = subprocess.run(
            [*hub, "koffer", "register", "--name", f"koffer-{i}", "--municipality", "051110000000"],
            check=True,
            capture_output=True,
            text=True,
            cwd=work,
        )
        tokens.append(made.stdout.strip())
    simulators = start(
        [cli, "--config", str(sim_config), "serve"],
        work,
        work / "simulators.log",
        "http://127.0.0.1:8079/readyz",
    )
    proc = None
    try:
        proc = start(
            [*SERVE, "--config", str(config), "serve"], work, work / "hub.log", f"{HUB}/readyz"
        )
        print(
            f"soak: {args.minutes:g} min at {args.rate:g} applications/s "
            f"(10 × a peak of {PEAK_PER_SECOND:.2f}/s), hub pid {proc.pid}, "
            f"simulators pid {simulators.pid}, work {work}",
            flush=True,
        )
        run(args, proc.pid, simulators.pid, work, tokens)
    finally:
        for each in (proc, simulators):
            if each is not None:
                stop(each)
        print(log_summary(work / "hub.log"))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, pid: int, sims: int, work: Path, tokens: list[str]) -> None:
    stats = Stats()
    start = time.perf_counter()
    load = Load(tokens, stats, start)
    duration = args.minutes * 60
    samples: list[tuple[float, dict[str, float]]] = [(0.0, proc_sample(pid, sims, work))]
    sent: Counter[str] = Counter()
    kinds, weights = list(MIX), list(MIX.values())
    rng = random.Random(17)
    pool = ThreadPoolExecutor(max_workers=64)
    next_sample = args.sample
    at = 0.0

    def guarded(kind: str) -> None:
        try:
            getattr(load, f"run_{kind}")()
        except Exception as exc:  # counted and shown at the end
            stats.fail(kind, exc)

    while at < duration:
        at += rng.expovariate(args.rate)
        while (now := time.perf_counter() - start) < at:
            time.sleep(min(at - now, 0.05))
            if now >= next_sample:
                samples.append((now, proc_sample(pid, sims, work)))
                next_sample += args.sample
                if len(samples) % 6 == 1:
                    recent = [s for t, s in stats.intake[-500:]]
                    last = samples[-1][1]
                    print(
                        f"  {now / 60:5.1f} min  sent {sum(sent.values()):6d}  "
                        f"rss {last['rss_mb']:6.1f} MB (anon {last['anon_mb']:6.1f})  "
                        f"fds {last['fds']:4.0f}  "
                        f"p99 (last 500) {pct(recent, 0.99) * 1000:6.1f} ms  "
                        f"failures {sum(stats.failures.values())}",
                        flush=True,
                    )
        kind = rng.choices(kinds, weights)[0]
        sent[kind] += 1
        pool.submit(guarded, kind)
    pool.shutdown(wait=True)
    elapsed = time.perf_counter() - start
    samples.append((elapsed, proc_sample(pid, sims, work)))

    # Let the deliveries finish, then count what became of every record.
    with httpx.Client(base_url=HUB, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as c:
        settle = time.monotonic() + 120
        counts = record_statuses(c)
        while (counts["accepted"] + counts["delivering"]) and time.monotonic() < settle:
            time.sleep(5)
            counts = record_statuses(c)
    time.sleep(10)  # the receiver's callbacks and the destruction of koffer data
    after = proc_sample(pid, sims, work)
    report(args, stats, sent, samples, after, counts, elapsed)


def report(
    args: argparse.Namespace,
    stats: Stats,
    sent: Counter[str],
    samples: list[tuple[float, dict[str, float]]],
    after: dict[str, float],
    counts: Counter[str],
    elapsed: float,
) -> None:
    fifth = elapsed / 5
    latencies = [s for _, s in stats.intake]
    print(f"\n{sum(sent.values())} applications in {elapsed / 60:.1f} min", end=" ")
    print(
        f"({sum(sent.values()) / elapsed:.2f}/s): " + ", ".join(f"{k} {v}" for k, v in sent.items())
    )
    print(
        f"intake latency over {len(latencies)} requests: p50 {pct(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    windows: dict[int, list[float]] = defaultdict(list)
    for t, s in stats.intake:
        windows[min(4, int(t // fifth))].append(s)
    print(
        "  p99 per fifth of the run: "
        + " · ".join(f"{pct(windows[i], 0.99) * 1000:.1f}" for i in range(5))
        + " ms"
    )
    warm = [(t, s) for t, s in samples if t >= fifth]
    keys = ("rss_mb", "anon_mb", "file_mb", "fds", "threads", "koffer_mb", "db_mb", "simulators_mb")
    for key in keys:
        unit = "MB" if key.endswith("_mb") else ""
        first = [s[key] for t, s in samples if t < fifth]
        last = [s[key] for t, s in samples if t >= 4 * fifth]
        print(
            f"{key:10s} first fifth median {statistics.median(first):8.1f} {unit:2s} "
            f"last fifth median {statistics.median(last):8.1f} {unit:2s} "
            f"max {max(s[key] for _, s in samples):8.1f}  "
            f"slope after warm-up {slope_per_hour([(t, s[key]) for t, s in warm]):+8.1f}/h  "
            f"after settling {after[key]:.1f}"
        )
    print("records: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print("answers: " + ", ".join(f"{k} × {v}" for k, v in sorted(stats.outcomes.items())))
    failed = sum(stats.failures.values())
    print(f"failed requests: {failed}")
    for what, n in stats.failures.most_common(10):
        print(f"  {n} × {what}")


if __name__ == "__main__":
    main()
