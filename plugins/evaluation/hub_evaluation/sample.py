"""A realistic year, fed into a hub through its real intake — sample data for ``make run``
(on request), the ground truth for tests, the load of the benchmark.

The year (after ``../shared/research/mobile-offices.md``, section 3): Essen's Bürgermobil on
a weekly tour of four stops (≈6,000 requests a year), Düsseldorf's three pop-up rounds in
libraries, a Bürgerkoffer every Thursday in a care home, home visits on Tuesdays, and portal
traffic every day. Cases go through ``hub.intake`` under a :class:`hub.SimulatedClock`, are
delivered through the configured adapters (``hub.deliver_due``) after a drawn delay, and get
the back office's answer as the registered statuses ``meldebehoerde:*`` and
``passport_office:*`` (where those plugins are installed). Appointments and Einsätze are told
through the public hooks (``appointment_changed``, ``einsatz_planned``) as the appointments
and mobile_office plugins tell them. Everything drawn is kept in :class:`Truth`.

The applicants are invented ("Beispiel"); only their birth years vary.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import hub

BERLIN = ZoneInfo("Europe/Berlin")
ESSEN, DUESSELDORF = "051130000000", "051110000000"
# Personalausweis and Reisepass Ausstellung, Wohnsitz Anmeldung, Meldebestätigung (LeiKa)
AUSWEIS, PASS, ANMELDUNG, CERTIFICATE = (
    "99008001012000",
    "99085001012000",
    "99115005104000",
    "99115003012000",
)
ON_SITE_MIX = ((AUSWEIS, 45), (PASS, 25), (ANMELDUNG, 20), (CERTIFICATE, 10))
PORTAL_MIX = ((ANMELDUNG, 55), (CERTIFICATE, 45))
# (back office status namespace, final status, share answered; media break status, share)
ANSWERS = {
    ANMELDUNG: ("meldebehoerde", "registered", 0.9, "not_electronic", 0.06),
    CERTIFICATE: ("meldebehoerde", "certificate_issued", 0.95, None, 0.0),
    AUSWEIS: ("passport_office", "ready_for_pickup", 0.9, None, 0.0),
    PASS: ("passport_office", "ready_for_pickup", 0.9, None, 0.0),
}


@dataclass(frozen=True)
class Stop:
    """An Einsatz of the sample year."""

    einsatz_id: str
    kind: str
    channel: str
    name: str
    place: str
    ars: str
    lat: float
    lon: float
    days: tuple[date, ...]
    hours: tuple[int, int]  # local, from–to
    cases_per_day: float
    slots_per_day: int  # offered for booking (0: walk-ins only)
    ages: tuple[int, int]  # of the applicants, from–to


@dataclass
class Truth:
    """What the generator fed, counted the way the reports count."""

    cases: Counter[tuple[str, str, str, str | None, str]] = field(default_factory=Counter)
    # (channel, leika, ars, einsatz_id, day)
    ages: dict[str, date] = field(default_factory=dict)  # record id → birth date
    delivered_minutes: dict[str, float] = field(default_factory=dict)
    final_minutes: dict[str, float] = field(default_factory=dict)
    media_breaks: set[str] = field(default_factory=set)
    channel_of: dict[str, str] = field(default_factory=dict)
    day_of: dict[str, date] = field(default_factory=dict)
    einsatz_of: dict[str, str | None] = field(default_factory=dict)
    appointments: Counter[tuple[str, str]] = field(default_factory=Counter)  # (office, status)
    booked: Counter[str] = field(default_factory=Counter)  # office → ever booked
    offered: Counter[str] = field(default_factory=Counter)  # office → slots offered
    stops: list[Stop] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def end_to_end(self) -> set[str]:
        return {r for r in self.final_minutes if r not in self.media_breaks}


def _weekdays(year: int, weekday: int, skip: Callable[[date], bool] = lambda d: False) -> list:
    day = date(year, 1, 1)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    found = []
    while day.year == year:
        if not skip(day):
            found.append(day)
        day += timedelta(weeks=1)
    return found


def _holiday(day: date) -> bool:
    """Summer break and the turn of the year: no tours."""
    return (day.month == 7 and day.day > 14) or (day.month == 12 and day.day > 20)


def stops(year: int, scale: float) -> list[Stop]:
    """The Einsätze of the year; ``scale`` multiplies how many cases each day brings."""

    def sid(name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub-sample:{year}:{name}"))

    def slots(n: int) -> int:
        return max(1, round(n * scale))

    found = []
    # Essen's Bürgermobil: Monday to Thursday, four stops, ≈ 6,000 requests over ≈ 175 days.
    tour = (
        ("Marktplatz Steele", 51.4478, 7.0786),
        ("Kray, Kamblickweg", 51.4682, 7.0825),
        ("Karnap, Karnaper Markt", 51.5253, 7.0040),
        ("Burgaltendorf, Alte Hauptstraße", 51.4120, 7.1260),
    )
    for weekday, (place, lat, lon) in enumerate(tour):
        found.append(
            Stop(sid(f"bm-{weekday}"), "buergermobil", "buergermobil",
                 f"Bürgermobil {place.split(',')[0]}", place, ESSEN, lat, lon,
                 tuple(_weekdays(year, weekday, _holiday)), (9, 15), 34 * scale, slots(24),
                 (18, 90))
        )  # fmt: skip
    # Düsseldorf's pop-up Bürgerbüro: three rounds of five days in three libraries.
    libraries = (
        ("Zentralbibliothek (KAP1)", 51.2199, 6.7945),
        ("Stadtteilbücherei Garath", 51.1350, 6.9140),
        ("Stadtteilbücherei Rath", 51.2730, 6.8120),
    )
    for n, (month, (place, lat, lon)) in enumerate(zip((3, 6, 10), libraries, strict=True)):
        first = date(year, month, 1) + timedelta(days=(0 - date(year, month, 1).weekday()) % 7)
        days = tuple(first + timedelta(days=i) for i in range(5))
        found.append(
            Stop(sid(f"popup-{n}"), "popup", "popup", f"Pop-up-Bürgerbüro {place}", place,
                 DUESSELDORF, lat, lon, days, (10, 18), 60 * scale, slots(48), (18, 85))
        )  # fmt: skip
    # The Bürgerkoffer every Thursday in a care home.
    found.append(
        Stop(sid("koffer"), "koffer_partner", "koffer", "Bürgerkoffer Seniorenzentrum",
             "Seniorenzentrum Gerresheim", DUESSELDORF, 51.2340, 6.8600,
             tuple(_weekdays(year, 3, _holiday)), (10, 14), 8 * scale, slots(12), (65, 98))
    )  # fmt: skip
    # Home visits on Tuesdays: two a day.
    found.append(
        Stop(sid("home"), "home_visit", "home_visit", "Hausbesuche Essen-Nord",
             "Mobiler Bürgerservice Essen", ESSEN, 51.4800, 7.0100,
             tuple(_weekdays(year, 1, _holiday)), (9, 15), 2 * scale, slots(2), (70, 99))
    )  # fmt: skip
    return found


def feed(h: Any, *, year: int, seed: int = 1, scale: float = 1.0, portal_per_day: float = 40,
         progress: Callable[[int], None] | None = None) -> Truth:  # fmt: skip
    """Feed the year into ``h`` (started, its workers idle or none) and return the truth.
    ``h`` must route every service this generator uses (the sample config sends all to the
    file adapter)."""
    rng = random.Random(seed)
    truth = Truth(stops=stops(year, scale))
    registered = h.registry.status_catalogue()["namespaces"]
    start = datetime(year, 1, 1, tzinfo=UTC)
    with hub.SimulatedClock(start) as clock:
        for stop in truth.stops:
            _plan(h, stop, truth)
        by_day: dict[date, list[Stop]] = defaultdict(list)
        for stop in truth.stops:
            for day in stop.days:
                by_day[day].append(stop)
        day = date(year, 1, 1)
        while day.year == year:
            for stop in by_day.get(day, []):
                _einsatz_day(h, clock, rng, stop, day, truth, registered)
            for _ in range(_poisson(rng, portal_per_day * scale)):
                ars = DUESSELDORF if rng.random() < 0.55 else ESSEN
                at = _local(day, rng.uniform(0, 24))
                _case(h, clock, rng, "portal", ars, None, at, (18, 80), PORTAL_MIX, truth,
                      registered)  # fmt: skip
            if progress is not None:
                progress(truth.total)
            day += timedelta(days=1)
    return truth


def _plan(h: Any, stop: Stop, truth: Truth) -> None:
    system = "mobile_office" if stop.slots_per_day else None
    h.einsatz_planned(
        hub.EinsatzPlan(
            stop.einsatz_id, stop.kind, stop.name, stop.place, stop.ars, stop.lat, stop.lon,
            dict.fromkeys(stop.days, stop.slots_per_day), "planned", system,
        )
    )  # fmt: skip
    if system:
        truth.offered[f"{system}:{stop.einsatz_id}"] += stop.slots_per_day * len(stop.days)


def _einsatz_day(h, clock, rng, stop: Stop, day: date, truth: Truth, registered) -> None:
    """One day of an Einsatz: booked appointments (some cancelled, some not kept), walk-ins,
    and the cases they bring."""
    office = f"mobile_office:{stop.einsatz_id}"
    # Of a day's requests about 70 % come booked (a few of them cancel or stay away), the
    # rest walk in; a day without booking takes walk-ins only.
    booked = min(stop.slots_per_day, _poisson(rng, stop.cases_per_day * 0.7))
    seen = 0
    for _ in range(booked):
        at = _local(day, rng.uniform(*stop.hours))
        outcome = rng.choices(["attended", "no_show", "cancelled"], weights=[80, 8, 12])[0]
        appointment = str(uuid.UUID(int=rng.getrandbits(128)))
        clock.set(at - timedelta(days=rng.randint(1, 20)))
        _tell(h, appointment, "booked", stop, at, "online")
        clock.set(at if outcome != "cancelled" else at - timedelta(days=1))
        _tell(h, appointment, outcome, stop, at, "online")
        truth.booked[office] += 1
        truth.appointments[(office, outcome)] += 1
        seen += outcome == "attended"
    walk_ins = _poisson(rng, stop.cases_per_day * 0.35) if stop.slots_per_day else 0
    for _ in range(walk_ins):
        at = _local(day, rng.uniform(*stop.hours))
        clock.set(at)
        _tell(h, str(uuid.UUID(int=rng.getrandbits(128))), "walk_in", stop, at, "walk_in")
        truth.appointments[(office, "walk_in")] += 1
    cases = seen + walk_ins if stop.slots_per_day else _poisson(rng, stop.cases_per_day)
    for _ in range(cases):
        at = _local(day, rng.uniform(*stop.hours))
        _case(h, clock, rng, stop.channel, stop.ars, stop, at, stop.ages, ON_SITE_MIX, truth,
              registered)  # fmt: skip


def _tell(h: Any, appointment: str, status: str, stop: Stop, at: datetime, channel: str) -> None:
    h.appointment_changed(
        hub.AppointmentChange(
            appointment, status, "mobile_office", stop.einsatz_id, stop.ars,
            at.astimezone(UTC), channel, (AUSWEIS,),
        )
    )  # fmt: skip


def _case(h, clock, rng, channel: str, ars: str, stop: Stop | None, at: datetime,
          ages: tuple[int, int], mix, truth: Truth, registered) -> None:  # fmt: skip
    leika = rng.choices([k for k, _ in mix], weights=[w for _, w in mix])[0]
    age = rng.randint(*ages)
    born = date(at.year - age, rng.randint(1, 12), rng.randint(1, 28))
    data: dict[str, Any] = {
        "service": {"leika_key": leika},
        "municipality": {"ars": ars},
        "channel": channel,
        "applicant": {"family_name": "Beispiel", "date_of_birth": born.isoformat()},
    }
    if stop is not None:
        data["location"] = {"name": stop.place, "einsatz_id": stop.einsatz_id}
    clock.set(at)
    accepted = h.intake.submit(hub.Submission.model_validate(data), client=_client(h))
    rid = accepted.record_id
    local = at.astimezone(BERLIN).date()
    truth.cases[(channel, leika, ars, stop.einsatz_id if stop else None, local.isoformat())] += 1
    truth.ages[rid], truth.channel_of[rid], truth.day_of[rid] = born, channel, local
    truth.einsatz_of[rid] = stop.einsatz_id if stop else None
    delay = round(rng.lognormvariate(1.2, 0.8), 1)  # minutes; most within a few
    clock.set(at + timedelta(minutes=delay))
    h.deliver_due()
    truth.delivered_minutes[rid] = delay
    namespace, final, answered, paper, paper_share = ANSWERS[leika]
    if namespace not in registered:
        return
    if paper and rng.random() < paper_share:
        clock.set(at + timedelta(minutes=delay + 60))
        h.report_status(rid, f"{namespace}:{paper}", key=f"sample:{rid}:paper")
        truth.media_breaks.add(rid)
    if rng.random() < answered:
        minutes = delay + round(rng.uniform(2, 21 * 24) * 60)  # hours to three weeks
        clock.set(at + timedelta(minutes=minutes))
        h.report_status(rid, f"{namespace}:{final}", key=f"sample:{rid}:final")
        truth.final_minutes[rid] = minutes


def _client(h: Any) -> str:
    writers = [c.name for c in h.config.clients if "records:write" in c.scopes]
    if not writers:
        raise hub.ConfigurationError("the sample year needs a client with records:write")
    return writers[0]


def _local(day: date, hour: float) -> datetime:
    whole = int(hour)
    minute = int((hour - whole) * 60)
    return datetime.combine(day, time(min(whole, 23), minute), BERLIN).astimezone(UTC)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


__all__ = ["Stop", "Truth", "feed", "stops"]
