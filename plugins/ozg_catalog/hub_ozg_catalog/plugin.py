"""Hook implementations of the ozg_catalog plugin. Settings live under ``[plugins.ozg_catalog]``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import structlog
from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import hub
from hub import pass_hub, require_client
from hub_ozg_catalog.authority import AuthorityResolver, AuthorityUnavailable, IntakeLookup
from hub_ozg_catalog.catalogue import Catalogue
from hub_ozg_catalog.importers import ImportProblem, read_leika_csv, read_regions, read_xzufi
from hub_ozg_catalog.keys import Ars, KeyError_, LeikaKey
from hub_ozg_catalog.pvog import DEFAULT_URL, PvogClient

NAME = "ozg_catalog"
log = structlog.get_logger("hub.ozg_catalog")


class CatalogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pvog_enabled: bool = Field(
        default=False,
        description="Ask the PVOG Suchdienst (on the internet) for authorities; off unless set",
    )
    pvog_url: str = DEFAULT_URL
    timeout: float = Field(default=5.0, gt=0, description="PVOG timeout for CLI and API lookups")
    retries: int = Field(default=2, ge=0)
    enrich_timeout: float = Field(
        default=1.5, gt=0, description="PVOG timeout of the background lookups intake queues"
    )
    intake_memo_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long intake reuses what it read from the authority cache",
    )
    cache_ttl_seconds: float = Field(default=86400, ge=0)
    negative_ttl_seconds: float = Field(default=3600, ge=0)
    breaker_seconds: float = Field(default=60, ge=0)
    enrich_authority: bool = True
    validate_existence: bool = Field(
        default=True, description="Refuse unknown keys/ARS once a catalogue/code list is loaded"
    )


@dataclass
class State:
    settings: CatalogSettings
    catalogue: Catalogue
    resolver: AuthorityResolver
    intake: IntakeLookup


def _build_state(h: Any) -> State:
    try:
        settings = CatalogSettings.model_validate(h.config.plugins.get(NAME, {}))
    except ValidationError as exc:
        raise hub.ConfigurationError(f"[plugins.{NAME}]: {exc}") from None
    catalogue = Catalogue(h.store)

    def resolver(timeout: float, retries: int) -> AuthorityResolver:
        pvog = (
            PvogClient(h.http, settings.pvog_url, timeout=timeout, retries=retries)
            if settings.pvog_enabled
            else None
        )
        return AuthorityResolver(
            catalogue,
            pvog,
            cache_ttl=settings.cache_ttl_seconds,
            negative_ttl=settings.negative_ttl_seconds,
            breaker_seconds=settings.breaker_seconds,
        )

    return State(
        settings,
        catalogue,
        resolver(settings.timeout, settings.retries),
        IntakeLookup(resolver(settings.enrich_timeout, 0), settings.intake_memo_seconds),
    )


STATE: hub.PluginState[State] = hub.PluginState(NAME, _build_state)


def state(h: Any) -> State:
    """This plugin's state for hub ``h``, built on first use."""
    return STATE(h)


@hub.hookimpl
def hub_startup(hub: Any) -> None:
    """Create or upgrade the catalogue tables; load the built-in services into an empty store."""
    st = state(hub)
    st.catalogue.ensure_builtin()


# --- intake ------------------------------------------------------------------------------------


def enrich(record: hub.Record, ctx: hub.EnrichContext) -> None:
    st = state(ctx.hub)
    cat = st.catalogue
    key = record.service.leika_key
    svc = cat.service(key)
    if svc is None and st.settings.validate_existence and cat.services_imported():
        raise hub.IntakeRejected.one(
            "service.leika_key",
            "catalogue_existence",
            f"{key} is not a service of the loaded LeiKa catalogue",
        )
    if svc is not None:
        record.service.name = record.service.name or svc["name"][:500]
        record.service.ozg_id = record.service.ozg_id or svc.get("ozg_id")
        record.service.ozg_topic = record.service.ozg_topic or svc.get("themenfeld")
    ars = record.municipality.ars
    try:
        Ars.parse(ars)
    except KeyError_ as exc:
        raise hub.IntakeRejected.one("municipality.ars", "ars_structure", str(exc)) from None
    region = cat.region(ars)
    if region is None and st.settings.validate_existence and cat.regions_loaded():
        raise hub.IntakeRejected.one(
            "municipality.ars",
            "region_existence",
            f"{ars} is not in the loaded Regionalschlüssel code list",
        )
    if region is not None and region.get("name") and record.municipality.name is None:
        record.municipality.name = region["name"]
    if st.settings.enrich_authority and record.authority is None:
        _attach_authority(st, record, key, ars)


def _attach_authority(st: State, record: hub.Record, key: str, ars: str) -> None:
    result = st.intake.resolve(key, ars)  # never remote: a miss is looked up in the background
    if result is None or not result.found or not result.authority:
        return
    try:
        record.authority = hub.Authority.model_validate(
            {k: v for k, v in result.authority.items() if v is not None} | {"source": result.source}
        )
    except ValidationError:
        log.info("authority_unusable", source=result.source)


@hub.hookimpl
def register_services(register: Any, hub: Any) -> None:
    """With PVOG enabled: look up, in the background, the authorities intake did not know."""
    from hub import PeriodicTask

    st = state(hub)
    if st.settings.pvog_enabled:
        register(
            "ozg_catalog_authorities",
            PeriodicTask("ozg_catalog_authorities", st.intake.refresh, 1.0),
        )


@hub.hookimpl
def register_enrichers(register: Any) -> None:
    register(NAME, enrich, phase="catalogue", blocking=False)  # PVOG: after the commit


# --- HTTP --------------------------------------------------------------------------------------


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    router = APIRouter(
        prefix="/v1/catalog", tags=["catalog"], dependencies=[Depends(require_client(None))]
    )

    @router.get("/search")
    def search(
        q: str = Query(min_length=1, max_length=200), limit: int = Query(10, ge=1, le=100)
    ) -> dict[str, Any]:
        """Services ranked for a citizen's words."""
        return {"query": q, "items": [h.as_dict() for h in state(hub).catalogue.search(q, limit)]}

    @router.get("/services/{key}")
    def service(key: str) -> dict[str, Any]:
        _key_or_400(key)
        found = state(hub).catalogue.describe(key)
        if found is None:
            raise HTTPException(404, f"{key} is not in the catalogue")
        return found

    @router.get("/regions/{ars}")
    def region(ars: str) -> dict[str, Any]:
        parsed = _ars_or_400(ars, state(hub).catalogue)
        found = state(hub).catalogue.region(parsed.ars)
        if found is None:
            raise HTTPException(404, f"{ars} is not in the Regionalschlüssel code list")
        return {
            **parsed.as_dict(),
            "name": found.get("name"),
            "kind": found["kind"],
            "hierarchy": parsed.hierarchy(),
        }

    @router.get("/authority")
    def authority(leika: str = Query(), ars: str = Query()) -> dict[str, Any]:
        """The responsible authority (Zuständige Stelle) for a service at a place."""
        _key_or_400(leika)
        place = _ars_or_400(ars, state(hub).catalogue)
        try:
            result = state(hub).resolver.resolve(leika, place.ars)
        except AuthorityUnavailable as exc:
            raise HTTPException(503, f"PVOG is unavailable and nothing is cached: {exc}") from None
        if not result.found:
            raise HTTPException(404, "no responsible authority is known for this service here")
        return result.as_dict()

    register(router)


def _key_or_400(key: str) -> LeikaKey:
    try:
        return LeikaKey.parse(key)
    except KeyError_ as exc:
        raise hub.IntakeRejected.one(
            "leika", "leika_structure", str(exc), status_code=400
        ) from None


def _ars_or_400(ars: str, catalogue: Catalogue) -> Ars:
    try:
        return catalogue.place(ars)
    except KeyError_ as exc:
        raise hub.IntakeRejected.one("ars", "ars_structure", str(exc), status_code=400) from None


# --- CLI ---------------------------------------------------------------------------------------


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def catalog() -> None:
        """The LeiKa/OZG service catalogue."""

    @catalog.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_hub
    def import_(h: Any, path: Path) -> None:
        """Replace the catalogue with a LeiKa CSV (KDN or official layout)."""
        started = time.perf_counter()
        try:
            layout, rows = read_leika_csv(path)
        except ImportProblem as exc:
            raise click.ClickException(str(exc)) from None
        count = state(h).catalogue.replace_services(rows, f"{layout}:{path.name}")
        click.echo(
            f"imported {count} services ({layout} layout) in {time.perf_counter() - started:.2f} s"
        )

    @catalog.command("import-xzufi")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_hub
    def import_xzufi(h: Any, path: Path) -> None:
        """Replace the offline table of responsible authorities from an XZuFi message."""
        try:
            version, items = read_xzufi(path)
        except ImportProblem as exc:
            raise click.ClickException(str(exc)) from None
        count = state(h).catalogue.replace_authorities(items)
        click.echo(f"imported {count} responsibilities (XZuFi {version})")

    @catalog.command("search")
    @click.argument("text")
    @click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
    @click.option("--json", "as_json", is_flag=True)
    @pass_hub
    def search(h: Any, text: str, limit: int, as_json: bool) -> None:
        """Find services for a citizen's words."""
        hits = state(h).catalogue.search(text, limit)
        if as_json:
            _echo([x.as_dict() for x in hits])
            return
        if not hits:
            click.echo("no matching service")
        for x in hits:
            click.echo(
                f"{x.score:5.2f}  {x.key}  {x.name}" + (f"  [OZG {x.ozg_id}]" if x.ozg_id else "")
            )

    @catalog.command("show")
    @click.argument("key")
    @click.option("--json", "as_json", is_flag=True)
    @pass_hub
    def show(h: Any, key: str, as_json: bool) -> None:
        """One service with its key structure."""
        try:
            LeikaKey.parse(key)
        except KeyError_ as exc:
            raise click.ClickException(f"{key}: {exc}") from None
        found = state(h).catalogue.describe(key)
        if found is None:
            raise click.ClickException(f"{key} is not in the catalogue")
        if as_json:
            _echo(found)
            return
        for k, v in found.items():
            if v not in (None, [], ""):
                click.echo(f"{k:<22} {', '.join(v) if isinstance(v, list) else v}")

    @catalog.command("authority")
    @click.argument("key")
    @click.option("--ars", required=True, help="12-digit Regionalschlüssel (or 8-digit AGS).")
    @click.option("--json", "as_json", is_flag=True)
    @pass_hub
    def authority(h: Any, key: str, ars: str, as_json: bool) -> None:
        """Who is responsible for service KEY at ARS."""
        try:
            LeikaKey.parse(key)
            place = state(h).catalogue.place(ars)
        except KeyError_ as exc:
            raise click.ClickException(str(exc)) from None
        try:
            result = state(h).resolver.resolve(key, place.ars)
        except AuthorityUnavailable as exc:
            raise click.ClickException(f"PVOG unavailable and nothing cached: {exc}") from None
        if as_json:
            _echo(result.as_dict())
            return
        if not result.found or not result.authority:
            raise click.ClickException("no responsible authority known")
        a = result.authority
        click.echo(
            f"{a['name']}  ({a.get('id')}, via {result.source}"
            f"{', stale' if result.stale else ''}, level {result.level_ars})"
        )
        address = a.get("address") or {}
        if address:
            click.echo(
                "  "
                + ", ".join(
                    str(v)
                    for v in (
                        address.get("street"),
                        address.get("postal_code"),
                        address.get("city"),
                    )
                    if v
                )
            )
        for k in ("phone", "email", "url"):
            if a.get(k):
                click.echo(f"  {k}: {a[k]}")

    @cli.group()
    def regions() -> None:
        """Amtliche Regionalschlüssel (ARS)."""

    @regions.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_hub
    def regions_import(h: Any, path: Path) -> None:
        """Replace the code list from Destatis' XRepository JSON."""
        try:
            rows = read_regions(path)
        except ImportProblem as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"imported {state(h).catalogue.replace_regions(rows)} regions")

    @regions.command("show")
    @click.argument("ars")
    @pass_hub
    def regions_show(h: Any, ars: str) -> None:
        """An ARS (or AGS) decoded, with its hierarchy."""
        try:
            place = state(h).catalogue.place(ars)
        except KeyError_ as exc:
            raise click.ClickException(str(exc)) from None
        found = state(h).catalogue.region(place.ars) or {}
        _echo({**place.as_dict(), "name": found.get("name"), "hierarchy": place.hierarchy()})


@hub.hookimpl
def register_tables(register: Any) -> None:
    """The catalogue, places and the authority cache."""
    from hub_ozg_catalog import tables

    register(tables)  # metadata, VERSION_TABLE and migrations/ beside it


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.ozg_catalog]``."""
    register(CatalogSettings)
