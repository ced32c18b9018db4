"""Hook implementations of the mobile_office plugin: settings, its table, the planning and
publishing routes, and the planning commands."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import structlog
from pydantic import BaseModel, ConfigDict, Field

import hub
from hub import pass_hub

NAME = "mobile_office"
log = structlog.get_logger("hub.mobile_office")


class Bring(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="The service, in plain words")
    documents: list[str] = Field(default_factory=list, max_length=20)
    fee: str | None = Field(default=None, max_length=200)


class MobileOfficeSettings(BaseModel):
    """``[plugins.mobile_office]`` (optional)."""

    model_config = ConfigDict(extra="forbid")
    requirements: dict[str, list[str]] | None = Field(
        default=None,
        description="LeiKa key → capabilities it needs on site (default: passport and ID "
        "card need camera, fingerprint, signature_pad; the Anmeldung needs melderegister)",
    )
    bring: dict[str, Bring] = Field(
        default_factory=dict,
        description="LeiKa key → what to bring and the fee, as the municipality words it "
        "(published with every date that offers the service)",
    )


def _build(h: Any) -> Any:
    from hub_mobile_office.model import DEFAULT_REQUIREMENTS
    from hub_mobile_office.plan import Planner

    settings = hub.parse_settings(MobileOfficeSettings, h.config.plugins.get(NAME, {}))
    return Planner(
        h,
        settings.requirements or DEFAULT_REQUIREMENTS,
        {k: v.model_dump() for k, v in settings.bring.items()},
    )


class SlotBookOf:
    """The plugin's slot book as a :class:`hub.BookingSystem`, built on first use (the hook
    runs before the hub's settings are checked)."""

    def __init__(self, h: Any):
        self.hub = h

    def catalogue(self) -> Any:
        return STATE(self.hub).slots.catalogue()

    def free_slots(self, *args: Any, **kw: Any) -> Any:
        return STATE(self.hub).slots.free_slots(*args, **kw)

    def reserve(self, *args: Any, **kw: Any) -> Any:
        return STATE(self.hub).slots.reserve(*args, **kw)

    def confirm(self, *args: Any, **kw: Any) -> Any:
        return STATE(self.hub).slots.confirm(*args, **kw)

    def cancel(self, *args: Any, **kw: Any) -> Any:
        return STATE(self.hub).slots.cancel(*args, **kw)

    def details(self, *args: Any, **kw: Any) -> Any:
        return STATE(self.hub).slots.details(*args, **kw)


def _purge_round(h: Any) -> None:
    """Tell of cancellations a crash left unannounced; delete the contact data of booked
    days that are over."""
    told = STATE(h).announce()
    if told:
        log.info("slot_book_cancellations_announced", bookings=told)
    purged, lapsed = STATE(h).slots.purge()
    if purged or lapsed:
        log.info("slot_book_purged", contacts=purged, reservations=lapsed)


def _purge(h: Any) -> hub.PeriodicTask:
    """:func:`_purge_round` at start and hourly."""
    return hub.PeriodicTask(
        "mobile-office-purge",
        lambda: _purge_round(h),
        3600.0,
        at_start=True,
        failure_event="slot_book_purge_failed",
    )


STATE: hub.PluginState[Any] = hub.PluginState(NAME, _build)


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.mobile_office]``: what each service needs on site."""
    register(MobileOfficeSettings)


@hub.hookimpl
def register_tables(register: Any) -> None:
    """The planned Einsätze."""
    from hub_mobile_office import tables

    register(tables)


@hub.hookimpl
def register_booking_systems(register: Any, hub: Any) -> None:
    """The slot book of Einsätze with booking rules, bookable through the appointments API
    (offices ``mobile_office:<Einsatz id>``)."""
    if hub is not None:
        register(NAME, SlotBookOf(hub))


@hub.hookimpl
def register_services(register: Any, hub: Any) -> None:
    """The purge of contact data kept for booked days that are over."""
    register("mobile_office_purge", _purge(hub))


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    from hub_mobile_office.routes import router

    register(router(hub, STATE))


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group(name="mobile-office")
    def mobile_office() -> None:
        """Plan and list deployments of mobile offices (Einsätze)."""

    def run(fn: Any) -> Any:
        try:
            return fn()
        except hub.IntakeRejected as exc:
            raise hub.rejection_error(exc) from None

    def plans(file: Path) -> list[Any]:
        """The Einsatz (or list of Einsätze) in a JSON file; a bad one names its field."""
        from pydantic import ValidationError

        from hub_mobile_office.model import Einsatz

        data = json.loads(file.read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else [data]
        try:
            return [Einsatz.model_validate(item) for item in items]
        except ValidationError as exc:
            problems = hub.field_problems(exc.errors())
            raise hub.rejection_error(hub.IntakeRejected(problems)) from None

    @mobile_office.command("create")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_hub
    def create(h: Any, file: Path) -> None:
        """Plan the Einsatz (or the list of Einsätze) in FILE (JSON); all or none."""
        found = plans(file)
        planner = STATE(h)
        for i, plan in enumerate(found):  # check all first: a bad one plans nothing
            try:
                planner.check(plan)
            except hub.IntakeRejected as exc:
                p = exc.problems[0]
                raise click.ClickException(f"[{i}] {p.field}: {p.message} ({p.rule})") from None
        for plan in found:
            made = run(lambda plan=plan: planner.create(plan, created_by="cli"))
            click.echo(f"{made['id']}  {plan.kind:<14} {len(made['days']):>3} day(s)  {plan.name}")

    @mobile_office.command("change")
    @click.argument("einsatz_id")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_hub
    def change(h: Any, einsatz_id: str, file: Path) -> None:
        """Replace the plan of Einsatz EINSATZ_ID with the one in FILE (JSON)."""
        found = plans(file)
        if len(found) != 1:
            raise click.ClickException("FILE: one Einsatz, not a list")
        plan = found[0]
        done = run(lambda: STATE(h).change(einsatz_id, plan))
        click.echo(f"{done['id']}  {done['status']}  {len(done['days'])} day(s)")

    @mobile_office.command("list")
    @click.option("--ars", default="05", show_default=True)
    @click.option("--days", default=30, show_default=True, type=click.IntRange(1, 400))
    @pass_hub
    def list_(h: Any, ars: str, days: int) -> None:
        """The planned days from today."""
        today = date.today()
        for o in STATE(h).occurrences(today, today + timedelta(days=days - 1), ars):
            e = o.einsatz
            click.echo(
                f"{o.day}  {e.hours.start}–{e.hours.end}  {e.kind:<14} {e.name} ({e.place.name})"
            )

    @mobile_office.command("cancel")
    @click.argument("einsatz_id")
    @click.option("--reason", required=True, help="For the citizens: no personal data")
    @pass_hub
    def cancel(h: Any, einsatz_id: str, reason: str) -> None:
        """Cancel an Einsatz and its bookings."""
        done = run(lambda: STATE(h).cancel(einsatz_id, reason))
        click.echo(f"{done['id']}  {done['status']}  {done['bookings_cancelled']} booking(s)")

    @mobile_office.command("bookings")
    @click.argument("einsatz_id")
    @pass_hub
    def bookings(h: Any, einsatz_id: str) -> None:
        """Who booked EINSATZ_ID (the call list after a cancellation)."""
        run(lambda: STATE(h).summary(einsatz_id))
        for b in STATE(h).slots.bookings(einsatz_id):
            contact = b["contact"] or {}
            reach = contact.get("telephone") or contact.get("email") or "-"
            who = contact.get("family_name") or "(gelöscht)"
            click.echo(f"{b['start']}  {b['status']:<9} {who}  {reach}")


MOBILE_CHANNELS = frozenset({"koffer", "buergermobil", "popup", "home_visit"})


@hub.hookimpl
def register_enrichers(register: Any) -> None:
    """Records captured on the road carry the Einsatz they were captured on: named by the
    device (checked), or found from the capturing device and the time (where
    ``[plugins.mobile_office]`` is configured)."""

    def einsatz(record: Any, ctx: Any) -> None:
        if record.channel.value not in MOBILE_CHANNELS or record.location is None:
            return
        if NAME not in ctx.hub.config.plugins:
            return  # installed, not configured: records pass as they would without it
        planner = STATE(ctx.hub)
        given = record.location.einsatz_id
        if given is not None:
            if not planner.is_planned(given):
                raise hub.IntakeRejected.one(
                    "location.einsatz_id", "unknown", "no planned Einsatz with this id"
                )
            return
        if record.location.device_id:
            found = planner.find(record.location.device_id, record.received_at)
            if found is not None:
                record.location = record.location.model_copy(update={"einsatz_id": found})

    register("mobile_office_einsatz", einsatz, phase="check", blocking=False)  # store reads
