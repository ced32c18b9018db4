"""The catalogue in the hub's store, and a per-version in-memory snapshot for fast reads.

The store is the truth (SQLite or PostgreSQL, shared by every hub process). Each import writes a
new ``version``; readers rebuild their snapshot (lookup dicts and the search index) when they see
a new version, checking at most every few seconds.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select

from hub import Store, utcnow
from hub_ozg_catalog import tables
from hub_ozg_catalog.builtin import builtin_services
from hub_ozg_catalog.importers import Zustaendigkeit, iter_chunks
from hub_ozg_catalog.keys import Ars, LeikaKey
from hub_ozg_catalog.search import Hit, SearchIndex

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_CHECK_SECONDS = 2.0
COMPETENT_MEMO = 100_000


@dataclass
class Snapshot:
    version: str
    services: dict[str, dict[str, Any]]
    services_source: str
    regions: dict[str, dict[str, Any]]
    ars_by_ags: dict[str, str]
    region_prefixes: frozenset[str]
    authorities: dict[tuple[str, str], list[dict[str, Any]]]
    _index: SearchIndex | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # (Leistungsschlüssel, ARS) → the competent authority's row and the level it was found at.
    # A snapshot never changes, so neither does the answer; intake asks once per record.
    _competent: dict[tuple[str, str], tuple[dict[str, Any], str] | None] = field(
        default_factory=dict
    )

    @property
    def index(self) -> SearchIndex:
        with self._lock:
            if self._index is None:
                self._index = SearchIndex(self.services.values())
            return self._index


class Catalogue:
    def __init__(self, store: Store):
        self.store = store
        self._snapshot: Snapshot | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    # --- schema and built-ins ------------------------------------------------------------------

    def ensure_builtin(self) -> None:
        """Load the built-in Bürgeramt services into an empty catalogue."""
        with self.store.transaction() as conn:
            if conn.execute(select(func.count()).select_from(tables.services)).scalar():
                return
            conn.execute(
                insert(tables.services), [_service_row(r, "builtin") for r in builtin_services()]
            )
            self._set_meta(conn, services_source="builtin")

    # --- imports (each one transaction: readers see the old state or the new, never a mix) -----

    def replace_services(self, rows: list[dict[str, Any]], source: str) -> int:
        with self.store.transaction() as conn:
            conn.execute(delete(tables.services))
            for chunk in iter_chunks([_service_row(r, source) for r in rows]):
                conn.execute(insert(tables.services), chunk)
            self._set_meta(conn, services_source=source)
        return len(rows)

    def replace_regions(self, rows: list[dict[str, Any]]) -> int:
        with self.store.transaction() as conn:
            conn.execute(delete(tables.regions))
            for chunk in iter_chunks(rows):
                conn.execute(insert(tables.regions), chunk)
            self._set_meta(conn)
        return len(rows)

    def replace_authorities(self, items: list[Zustaendigkeit]) -> int:
        with self.store.transaction() as conn:
            conn.execute(delete(tables.authorities))
            for chunk in iter_chunks(
                [
                    {
                        "leika_key": z.leika_key,
                        "ars": z.ars,
                        "role": z.role,
                        "oe_id": z.oe_id,
                        "name": z.name,
                        "detail": json.dumps(z.detail, ensure_ascii=False),
                    }
                    for z in items
                ]
            ):
                conn.execute(insert(tables.authorities), chunk)
            self._set_meta(conn)
        return len(items)

    def _set_meta(self, conn: Any, **values: str) -> None:
        values["version"] = uuid.uuid4().hex
        for name, value in values.items():
            conn.execute(delete(tables.meta).where(tables.meta.c.name == name))
            conn.execute(insert(tables.meta).values(name=name, value=value))
        self._checked = 0.0  # this process sees its own import at once

    # --- reading -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        current = self._snapshot
        # Lock-free while fresh: every intake thread asks several times per record, and a lock
        # taken each time queued them behind one another.
        if current is not None and now - self._checked < VERSION_CHECK_SECONDS:
            return current
        with self._lock:
            if self._snapshot is not None and now - self._checked < VERSION_CHECK_SECONDS:
                return self._snapshot
            self._checked = now
            with self.store.reading() as conn:
                meta = dict(conn.execute(select(tables.meta.c.name, tables.meta.c.value)).all())
                version = meta.get("version", "")
                if self._snapshot is not None and self._snapshot.version == version:
                    return self._snapshot
                self._snapshot = self._load(conn, version, meta.get("services_source", "none"))
            return self._snapshot

    @staticmethod
    def _load(conn: Any, version: str, source: str) -> Snapshot:
        services = {r.leika_key: dict(r._mapping) for r in conn.execute(select(tables.services))}
        regions = {r.ars: dict(r._mapping) for r in conn.execute(select(tables.regions))}
        prefixes = set()
        for ars in regions:
            a = Ars(ars)
            prefixes.update({a.kreis_ars, a.ars[:3] + "0" * 9, a.land_ars, a.ars[:9] + "000"})
        authorities: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in conn.execute(select(tables.authorities).order_by(tables.authorities.c.id)):
            row = dict(r._mapping)
            row["detail"] = json.loads(row["detail"])
            authorities.setdefault((r.leika_key, r.ars), []).append(row)
        ars_by_ags = {Ars(ars).ags: ars for ars in regions}
        return Snapshot(
            version, services, source, regions, ars_by_ags, frozenset(prefixes), authorities
        )

    def service(self, key: str) -> dict[str, Any] | None:
        return self.snapshot().services.get(key)

    def services_imported(self) -> bool:
        """True once a real catalogue was imported (not only the built-in services)."""
        return self.snapshot().services_source not in ("builtin", "none")

    def regions_loaded(self) -> bool:
        return bool(self.snapshot().regions)

    def region(self, ars: str) -> dict[str, Any] | None:
        snap = self.snapshot()
        found = snap.regions.get(ars)
        if found is not None:
            return {**found, "kind": "gemeinde"}
        if ars in snap.region_prefixes:
            return {
                "ars": ars,
                "ags": Ars(ars).ags,
                "name": None,
                "hint": None,
                "kind": Ars(ars).level.value,
            }
        return None

    def ars_for_ags(self, ags: str) -> str | None:
        return self.snapshot().ars_by_ags.get(ags)

    def place(self, value: str) -> Ars:
        """An ARS, or an AGS looked up in the code list (the AGS lacks the Gemeindeverband)."""
        if len(value) == 8 and value.isdigit():
            found = self.ars_for_ags(value)
            if found is not None:
                return Ars(found)
        return Ars.parse(value)

    def describe(self, key: str) -> dict[str, Any] | None:
        svc = self.service(key)
        if svc is None:
            return None
        parsed = LeikaKey.parse(key)
        return {
            **parsed.as_dict(),
            "name": svc["name"],
            "name2": svc.get("name2"),
            "typisierung": (svc.get("typisierung") or "").split(",")
            if svc.get("typisierung")
            else [],
            "ozg_id": svc.get("ozg_id"),
            "ozg_leistung": svc.get("ozg_leistung"),
            "lebenslage": svc.get("lebenslage"),
            "themenfeld": svc.get("themenfeld"),
            "rechtsgrundlage": svc.get("rechtsgrundlage"),
            "synonyms": (svc.get("synonyms") or "").split("|") if svc.get("synonyms") else [],
            "parent": parsed.parent,
            "source": svc.get("source"),
        }

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        return self.snapshot().index.search(query, limit)

    def competent_authority(self, key: str, place: Ars) -> tuple[dict[str, Any], str] | None:
        """The imported authority with role 01 (zuständige Stelle) for ``key`` at ``place`` or
        the nearest level above it, and that level's ARS; None where none was imported."""
        snap = self.snapshot()
        memo = (key, place.ars)
        if memo in snap._competent:
            return snap._competent[memo]
        found = None
        for level in place.hierarchy():
            rows = [r for r in snap.authorities.get((key, level), []) if r["role"] == "01"]
            if rows:
                found = (rows[0], level)
                break
        if len(snap._competent) >= COMPETENT_MEMO:  # services × places of a state: bounded
            snap._competent.clear()
        snap._competent[memo] = found
        return found

    # --- PVOG cache ----------------------------------------------------------------------------

    def cache_get(self, key: str, ars: str) -> tuple[dict[str, Any], datetime] | None:
        with self.store.reading() as conn:
            row = conn.execute(
                select(tables.authority_cache).where(
                    tables.authority_cache.c.leika_key == key, tables.authority_cache.c.ars == ars
                )
            ).first()
        return (json.loads(row.result), row.fetched_at) if row else None

    def cache_put(self, key: str, ars: str, result: dict[str, Any]) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                delete(tables.authority_cache).where(
                    tables.authority_cache.c.leika_key == key, tables.authority_cache.c.ars == ars
                )
            )
            conn.execute(
                insert(tables.authority_cache).values(
                    leika_key=key,
                    ars=ars,
                    result=json.dumps(result, ensure_ascii=False),
                    fetched_at=utcnow(),
                )
            )


def _service_row(row: dict[str, Any], source: str) -> dict[str, Any]:
    key = LeikaKey.parse(str(row["leika_key"]))
    return {
        "leika_key": key.key,
        "name": row["name"],
        "name2": row.get("name2"),
        "kind": key.kind.value,
        "typisierung": row.get("typisierung"),
        "ozg_id": row.get("ozg_id"),
        "ozg_leistung": row.get("ozg_leistung"),
        "lebenslage": row.get("lebenslage"),
        "themenfeld": row.get("themenfeld"),
        "rechtsgrundlage": row.get("rechtsgrundlage"),
        "synonyms": row.get("synonyms"),
        "source": source[:32],
    }
