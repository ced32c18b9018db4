"""Slot book benchmark: free-slot queries and reservations for a municipality with 50 places
× a year of Einsätze, against a plain SQL baseline of the same data in the same run.

Setup (not timed): a live hub (``hub.testing.LiveHub``: uvicorn on loopback, every bundled
plugin installed, ``[plugins.appointments]`` without a ZMS so the mobile_office slot book is
what it offers) plans 50 Einsätze through its API — one place each, weekly for a year, 09–13 h,
20-minute slots, 2 desks, bookable a year ahead — and fills about 40 % of the desks with
confirmed bookings. The baseline copies the same data into one table with a row per slot start
(``capacity``, ``taken``) in the same SQLite database.

Measured, each a whole run of ``--ops`` operations on random places and dates (the same
sequence for ours and the baseline):

- **slots**: free start times of one place over four weeks — ours: ``GET /v1/appointments/slots``
  over HTTP, and the same call in-process (``Appointments.free_slots``, no HTTP); baseline:
  ``SELECT start_at FROM slots WHERE place = ? AND start_at BETWEEN ? AND ? AND taken <
  capacity``.
- **reserve**: one free slot — ours: ``POST /v1/appointments`` (the appointment row and the slot
  book's reservation, capacity checked inside the write transaction); baseline: ``UPDATE slots
  SET taken = taken + 1 WHERE … AND taken < capacity`` plus an INSERT of a booking row, in one
  transaction.

Reported: p50 and p95 latency, throughput (operations / wall time of the run, one client), and
ours ÷ baseline; medians over ``--runs``.

    python bench/slots.py [--ops 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from hub.testing import LiveHub, hub_config

BERLIN = ZoneInfo("Europe/Berlin")
TOKEN = "bench-slots-token-0123456"
AUSWEIS, PASS = "99102013104000", "99102012104000"
PLACES, SLOT_MINUTES, DESKS, FILL = 50, 20, 2, 0.4
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def einsatz(i: int, first: date) -> dict[str, Any]:
    start = first + timedelta(days=i % 5)  # five weekdays' worth of places
    return {
        "kind": "buergermobil" if i % 2 else "popup",
        "name": f"Ort {i:02d}",
        "place": {
            "name": f"Ort {i:02d}",
            "address": f"Marktplatz {i}, 40210 Düsseldorf",
            "lat": 51.2 + i / 1000,
            "lon": 6.7 + i / 1000,
            "ars": "051110000000",
        },
        "start": start.isoformat(),
        "rrule": f"FREQ=WEEKLY;BYDAY={WEEKDAYS[start.weekday()]};COUNT=52",
        "hours": {"start": "09:00", "end": "13:00"},
        "capabilities": ["camera", "fingerprint", "signature_pad"],
        "services": [AUSWEIS, PASS],
        "booking": {
            "slot_minutes": SLOT_MINUTES,
            "desks": DESKS,
            "opens_days_before": 366,
            "closes_hours_before": 0,
        },
    }


def starts(day: date) -> list[datetime]:
    begin = datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN)
    return [
        (begin + timedelta(minutes=SLOT_MINUTES * k)).astimezone(UTC)
        for k in range(4 * 60 // SLOT_MINUTES)
    ]


def setup(live: LiveHub, rng: random.Random) -> tuple[list[str], dict[str, list[date]]]:
    """Plan the places and fill the slot book and the baseline table alike."""
    first = datetime.now(BERLIN).date() + timedelta(days=7)
    offices, days = [], {}
    with live.client(TOKEN) as c:
        for i in range(PLACES):
            r = c.post("/v1/mobile-office/einsaetze", json=einsatz(i, first))
            r.raise_for_status()
            made = r.json()
            offices.append(made["id"])
            days[made["id"]] = [date.fromisoformat(d) for d in made["days"]]
    bookings, slots = [], []
    now = datetime.now(UTC)
    for eid in offices:
        for day in days[eid]:
            for start in starts(day):
                taken = sum(rng.random() < FILL for _ in range(DESKS))
                slots.append({"place": eid, "start_at": start, "capacity": DESKS, "taken": taken})
                for _ in range(taken):
                    bookings.append(
                        {
                            "process_id": uuid.uuid4().hex,
                            "auth_key": "bench",
                            "einsatz_id": eid,
                            "day": day,
                            "start_at": start,
                            "slots": 1,
                            "services": json.dumps([[AUSWEIS, 1]]),
                            "status": "confirmed",
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
    engine = live.hub.store.engine
    from hub_mobile_office import tables

    with engine.begin() as conn:
        conn.execute(tables.bookings.insert(), bookings)
        conn.execute(
            text(
                "CREATE TABLE bench_slots (place VARCHAR(36), start_at TIMESTAMP, capacity INT,"
                " taken INT, PRIMARY KEY (place, start_at))"
            )
        )
        conn.execute(
            text(
                "CREATE TABLE bench_bookings (id VARCHAR(32) PRIMARY KEY, place VARCHAR(36),"
                " start_at TIMESTAMP, created_at TIMESTAMP)"
            )
        )
        conn.execute(
            text("INSERT INTO bench_slots VALUES (:place, :start_at, :capacity, :taken)"),
            [{**s, "start_at": s["start_at"].replace(tzinfo=None)} for s in slots],
        )
    print(
        f"setup: {PLACES} places, {sum(len(d) for d in days.values())} days, "
        f"{len(slots)} slot starts × {DESKS} desks, {len(bookings)} bookings"
    )
    return offices, days


def timed(fn: Any, items: list[Any]) -> dict[str, float]:
    lat = []
    t0 = time.perf_counter()
    for item in items:
        t = time.perf_counter()
        fn(item)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    lat.sort()
    return {
        "p50_ms": statistics.median(lat) * 1000,
        "p95_ms": lat[int(0.95 * (len(lat) - 1))] * 1000,
        "ops_s": len(items) / wall,
    }


def one_run(live: LiveHub, offices: list[str], days: dict[str, list[date]], ops: int, seed: int):
    rng = random.Random(seed)
    queries = []
    for _ in range(ops):
        eid = rng.choice(offices)
        first = rng.choice(days[eid][:-4])
        queries.append((eid, first, first + timedelta(days=27)))
    engine = live.hub.store.engine
    from hub_appointments.plugin import STATE

    appointments = STATE(live.hub)
    out: dict[str, dict[str, float]] = {}
    # Reads on the store's read pool, like the hub's: a connection of the writer engine would
    # hold SQLite's write lock (BEGIN IMMEDIATE) for the whole run.
    with live.client(TOKEN) as c, live.hub.store.read_engine.connect() as conn:

        def ours_http(q: tuple[str, date, date]) -> None:
            r = c.get(
                "/v1/appointments/slots",
                params={
                    "office": f"mobile_office:{q[0]}",
                    "service": AUSWEIS,
                    "from": q[1].isoformat(),
                    "to": q[2].isoformat(),
                },
            )
            assert r.status_code == 200 and r.json()["slots"], r.text

        def ours_inproc(q: tuple[str, date, date]) -> None:
            assert appointments.free_slots(f"mobile_office:{q[0]}", [(AUSWEIS, 1)], q[1], q[2])

        select_free = text(
            "SELECT start_at FROM bench_slots WHERE place = :p AND start_at BETWEEN :a AND :b"
            " AND taken < capacity ORDER BY start_at"
        )

        def plain(q: tuple[str, date, date]) -> None:
            found = conn.execute(
                select_free, {"p": q[0], "a": q[1], "b": q[2] + timedelta(days=1)}
            ).all()
            assert found

        out["slots ours (HTTP)"] = timed(ours_http, queries)
        out["slots ours (in-process)"] = timed(ours_inproc, queries)
        out["slots plain SQL"] = timed(plain, queries)

        # One free start per place, picked before timing, reserved by both in the same order.
        targets = []
        for eid, first, last in queries:
            free = appointments.free_slots(f"mobile_office:{eid}", [(AUSWEIS, 1)], first, last)
            targets.append((eid, rng.choice(free)))

        def reserve_ours(t: tuple[str, datetime]) -> None:
            r = c.post(
                "/v1/appointments",
                json={
                    "office": f"mobile_office:{t[0]}",
                    "services": [{"leika": AUSWEIS}],
                    "start": t[1].isoformat(),
                },
            )
            assert r.status_code in (201, 409), r.text  # 409: an earlier pick took the desk

        take = text(
            "UPDATE bench_slots SET taken = taken + 1 WHERE place = :p AND start_at = :s"
            " AND taken < capacity"
        )
        book = text("INSERT INTO bench_bookings VALUES (:i, :p, :s, CURRENT_TIMESTAMP)")

        def reserve_plain(t: tuple[str, datetime]) -> None:
            at = t[1].astimezone(UTC).replace(tzinfo=None)
            with engine.begin() as tx:
                if tx.execute(take, {"p": t[0], "s": at}).rowcount:
                    tx.execute(book, {"i": uuid.uuid4().hex, "p": t[0], "s": at})

        out["reserve ours (HTTP)"] = timed(reserve_ours, targets)
        out["reserve plain SQL"] = timed(reserve_plain, targets)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as tmp:
        config = hub_config(
            f"sqlite:///{Path(tmp) / 'hub.db'}",
            Path(tmp) / "out",
            TOKEN,
            plugins={"appointments": {}, "ozg_catalog": {"pvog_enabled": False}},
        )
        with LiveHub(config) as live:
            offices, days = setup(live, rng)
            runs = [one_run(live, offices, days, args.ops, seed) for seed in range(args.runs)]
    names = list(runs[0])
    summary = {
        name: {k: statistics.median(r[name][k] for r in runs) for k in runs[0][name]}
        for name in names
    }
    for name in names:
        s = summary[name]
        per_run = " · ".join(f"{r[name]['p95_ms']:.2f}" for r in runs)
        print(
            f"{name:<26} p50 {s['p50_ms']:7.3f} ms  p95 {s['p95_ms']:7.3f} ms ({per_run})"
            f"  {s['ops_s']:8.0f} ops/s"
        )
    for what, base in (("slots", "slots plain SQL"), ("reserve", "reserve plain SQL")):
        for name in names:
            if name.startswith(what) and name != base:
                p95 = summary[name]["p95_ms"] / summary[base]["p95_ms"]
                tput = summary[name]["ops_s"] / summary[base]["ops_s"]
                print(f"{name:<26} ÷ baseline: p95 {p95:.1f}×, throughput {tput:.2f}")


if __name__ == "__main__":
    main()
