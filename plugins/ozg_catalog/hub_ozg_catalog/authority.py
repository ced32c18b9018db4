"""Who is responsible for a service at a place: offline XZuFi table first, then PVOG.

Both walk up the ARS levels (Gemeinde → Kreis → Land → Bund) when a level has no entry. PVOG
results are cached in the store with a TTL (found: ``cache_ttl``; not found: ``negative_ttl``);
when PVOG fails, a stale cache entry is served and marked ``stale``. After a PVOG failure the
resolver stops asking for ``breaker_seconds``, so an outage costs one timeout, not one per record.

Intake never waits for PVOG (:class:`IntakeLookup`): it answers from the offline table and the
cache, read at most once per service and place every few seconds, and leaves a miss to a
background refresh whose answer serves the records that come after it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from hub import utcnow
from hub_ozg_catalog.catalogue import Catalogue
from hub_ozg_catalog.keys import Ars
from hub_ozg_catalog.pvog import PvogClient, PvogError, PvogUnavailable, authority_from_detail


class AuthorityUnavailable(Exception):
    """PVOG is unreachable and nothing is cached for this service and place."""


@dataclass(frozen=True)
class AuthorityResult:
    found: bool
    authority: dict[str, Any] | None
    source: str  # offline | pvog | cache | none
    stale: bool = False
    level_ars: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "authority": self.authority,
            "source": self.source,
            "stale": self.stale,
            "ars": self.level_ars,
        }


class AuthorityResolver:
    def __init__(
        self,
        catalogue: Catalogue,
        pvog: PvogClient | None,
        *,
        cache_ttl: float,
        negative_ttl: float,
        breaker_seconds: float,
    ):
        self.catalogue = catalogue
        self.pvog = pvog
        self.cache_ttl = cache_ttl
        self.negative_ttl = negative_ttl
        self.breaker_seconds = breaker_seconds
        self._open_until = 0.0
        self._lock = threading.Lock()

    def resolve(self, leika_key: str, ars: str, *, remote: bool = True) -> AuthorityResult:
        place = Ars.parse(ars)
        offline = self.offline(leika_key, place)
        if offline is not None:
            return offline
        cached = self.cached(leika_key, place.ars)
        if cached is not None and cached[1]:
            return _from_cache(cached[0], stale=False)
        if self.pvog is None or not remote or self._breaker_open():
            if cached is not None:
                return _from_cache(cached[0], stale=True)
            if self.pvog is None or not remote:
                return AuthorityResult(False, None, "none")
            raise AuthorityUnavailable("PVOG was unavailable moments ago; nothing cached")
        try:
            result = self._ask_pvog(leika_key, place)
        except PvogUnavailable as exc:
            self._trip()
            if cached is not None:
                return _from_cache(cached[0], stale=True)
            raise AuthorityUnavailable(str(exc)) from exc
        except PvogError as exc:
            if cached is not None:
                return _from_cache(cached[0], stale=True)
            raise AuthorityUnavailable(str(exc)) from exc
        self.catalogue.cache_put(leika_key, place.ars, result.as_dict())
        return result

    def cached(self, leika_key: str, ars: str) -> tuple[dict[str, Any], bool] | None:
        """The cached PVOG answer and whether it is within its TTL (None: nothing cached)."""
        found = self.catalogue.cache_get(leika_key, ars)
        if found is None:
            return None
        result, fetched = found
        ttl = self.cache_ttl if result.get("found") else self.negative_ttl
        return result, (utcnow() - fetched).total_seconds() <= ttl

    def offline(self, leika_key: str, place: Ars) -> AuthorityResult | None:
        found = self.catalogue.competent_authority(leika_key, place)
        if found is None:
            return None
        r, level = found
        return AuthorityResult(
            True,
            {"id": r["oe_id"], "name": r["name"], "role": "01", **r["detail"]},
            "offline",
            level_ars=level,
        )

    def _ask_pvog(self, leika_key: str, place: Ars) -> AuthorityResult:
        assert self.pvog is not None
        levels = []
        for ars in (place.ars, place.kreis_ars, place.land_ars, "000000000000"):
            if ars not in levels:
                levels.append(ars)
        for ars in levels:
            lb_id = self.pvog.service_id(leika_key, ars)
            if lb_id is None:
                continue
            units = self.pvog.responsible_units(ars, lb_id)
            if not units:
                continue
            unit = units[0]
            detail = self.pvog.unit_detail(str(unit["id"]))
            return AuthorityResult(
                True,
                authority_from_detail(str(unit["id"]), unit.get("title"), detail),
                "pvog",
                level_ars=ars,
            )
        return AuthorityResult(False, None, "pvog")

    def _breaker_open(self) -> bool:
        with self._lock:
            return time.monotonic() < self._open_until

    def _trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.breaker_seconds


class IntakeLookup:
    """Authority lookups on the intake path: no remote call, and at most one cache read per
    service and place every ``memo_seconds`` (a cache entry another process wrote, or one aged
    in the database, is seen after that at the latest). A missing or expired entry is queued
    for :meth:`refresh`, which a background task runs; the record at hand is accepted with what
    is known now (like any record while PVOG is down: enrichment never blocks intake). The
    queue lives in memory on purpose: a lost queue only means the next record for that
    service and place queues it again."""

    def __init__(self, resolver: AuthorityResolver, memo_seconds: float):
        self.resolver = resolver
        self.memo_seconds = memo_seconds
        self._memo: dict[tuple[str, str], tuple[float, AuthorityResult | None]] = {}
        self._pending: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def resolve(self, leika_key: str, ars: str) -> AuthorityResult | None:
        offline = self.resolver.offline(leika_key, Ars.parse(ars))
        if offline is not None:
            return offline
        now = time.monotonic()
        with self._lock:
            memo = self._memo.get((leika_key, ars))
        if memo is not None and memo[0] > now:
            return memo[1]
        result = self._from_cache(leika_key, ars)
        with self._lock:
            if len(self._memo) > 100_000:  # services × places of a state; never unbounded
                self._memo.clear()
            self._memo[(leika_key, ars)] = (now + self.memo_seconds, result)
        return result

    def _from_cache(self, leika_key: str, ars: str) -> AuthorityResult | None:
        cached = self.resolver.cached(leika_key, ars)
        fresh = cached is not None and cached[1]
        if not fresh and self.resolver.pvog is not None:
            with self._lock:
                self._pending.add((leika_key, ars))
        return None if cached is None else _from_cache(cached[0], stale=not fresh)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def refresh(self) -> int:
        """Ask PVOG for every queued service and place (each answer goes to the cache); returns
        how many were answered. Unanswered ones (PVOG down) are queued again by later records."""
        with self._lock:
            queued, self._pending = self._pending, set()
        answered = 0
        for leika_key, ars in sorted(queued):
            try:
                result = self.resolver.resolve(leika_key, ars)
            except AuthorityUnavailable:
                continue
            answered += 1
            with self._lock:
                self._memo[(leika_key, ars)] = (time.monotonic() + self.memo_seconds, result)
        return answered


def _from_cache(result: dict[str, Any], *, stale: bool) -> AuthorityResult:
    return AuthorityResult(
        bool(result.get("found")),
        result.get("authority"),
        "cache",
        stale=stale,
        level_ars=result.get("ars"),
    )
