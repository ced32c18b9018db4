"""Hook implementations of the appointments plugin: settings, its table, the booking API and
commands, the expiry of unconfirmed reservations, and (development) the ZMS simulator."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import click

import hub
from hub import pass_hub

NAME = "appointments"


def _build(h: Any) -> Any:
    """The plugin's :class:`Appointments` for this hub; None when it is not configured."""
    raw = h.config.plugins.get(NAME)
    if raw is None:
        return None
    from hub_appointments.book import Appointments, System
    from hub_appointments.settings import AppointmentsSettings
    from hub_appointments.zms import ZmsCitizenApi

    settings = hub.parse_settings(AppointmentsSettings, raw)
    systems = []
    if settings.url:
        systems.append(
            System(
                settings.system,
                ZmsCitizenApi(settings.url, h.http_client(timeout=settings.timeout)),
                offices={oid: m.ars for oid, m in settings.offices.items()},
                services=dict(settings.services),
            )
        )
    for name, api in sorted(h.registry.booking_systems.items()):
        # Systems inside the hub answer from its own store: no need to cache their offers.
        systems.append(System(name, api, prefix=f"{name}:", cache_seconds=0))
    return Appointments(h, settings, systems)


STATE: hub.PluginState[Any] = hub.PluginState(NAME, _build)


class ExpirySweeper(hub.PeriodicTask):
    """Gives unconfirmed reservations back when their time is up (every 30 s; the booking
    system away: the next round tries again)."""

    def __init__(self, h: Any, interval: float = 30.0):
        super().__init__(
            "appointments-expiry",
            lambda: STATE(h).expire_due(),
            interval,
            failure_event="expiry_failed",
        )


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.appointments]``: the booking system, and its ids mapped to ARS and LeiKa."""
    from hub_appointments.settings import AppointmentsSettings

    register(AppointmentsSettings)


@hub.hookimpl
def register_tables(register: Any) -> None:
    """The appointments the hub booked (ids and status, no contact data)."""
    from hub_appointments import tables

    register(tables)


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    from hub_appointments.routes import router

    register(router(hub, STATE))


@hub.hookimpl
def register_console_pages(register: Any, hub: Any) -> None:
    """Termine (ServiceCenter: book, find, move, cancel for a caller) and the
    Tagesübersicht (the team on site: attendance, walk-ins)."""
    if hub is None or NAME not in hub.config.plugins:
        return
    from hub_appointments.console import pages

    for page in pages(STATE):
        register(page)


@hub.hookimpl
def register_services(register: Any, hub: Any) -> None:
    """The expiry of unconfirmed reservations; (development) the ZMS simulator."""
    raw = hub.config.plugins.get(NAME)
    if raw is None:
        return
    register("appointments_expiry", ExpirySweeper(hub))
    if raw.get("simulator") is not None:
        from hub import parse_settings
        from hub_appointments.settings import SimulatorSettings
        from hub_appointments.sim.embedded import EmbeddedZms

        register(
            "zms_simulator",
            EmbeddedZms(parse_settings(SimulatorSettings, raw["simulator"])),
            dev_only=True,
        )


@hub.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def appointments() -> None:
        """Appointments in the booking system (ServiceCenter staff book for callers)."""

    def system(h: Any) -> Any:
        found = STATE(h)
        if found is None:
            raise click.ClickException("[plugins.appointments] is not configured")
        return found

    def run(fn: Any) -> Any:
        try:
            return fn()
        except hub.IntakeRejected as exc:
            raise hub.rejection_error(exc) from None
        except (hub.PermanentError, hub.TransientError) as exc:
            raise click.ClickException(str(exc)) from None

    @appointments.command("offices")
    @pass_hub
    def offices(h: Any) -> None:
        """The offices offered, with their ARS and bookable LeiKa keys."""
        for o in run(lambda: system(h).offices()):
            keys = ", ".join(s["leika"] for s in o["services"])
            click.echo(f"{o['id']:<6} {o['ars']}  {o['name']}  [{keys}]")

    def answered(values: tuple[str, ...]) -> dict[str, str]:
        found = {}
        for item in values:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise click.ClickException(f"--answer {item!r}: NAME=VALUE")
            found[name] = value
        return found

    answer = click.option(
        "--answer",
        "answers",
        multiple=True,
        metavar="NAME=VALUE",
        help="A field the office asks (reason=mobility_restricted, district=Repelen)",
    )

    @appointments.command("slots")
    @click.argument("office")
    @click.argument("leika", nargs=-1, required=True)
    @click.option("--days", default=14, show_default=True, type=click.IntRange(1, 366))
    @answer
    @pass_hub
    def slots(
        h: Any, office: str, leika: tuple[str, ...], days: int, answers: tuple[str, ...]
    ) -> None:
        """Free start times at OFFICE for the LEIKA services (each once)."""
        today = date.today()
        given = answered(answers)
        found = run(
            lambda: system(h).free_slots(
                office, [(k, 1) for k in leika], today, today + timedelta(days=days - 1), given
            )
        )
        for t in found:
            click.echo(t.astimezone().isoformat(timespec="minutes"))

    @appointments.command("book")
    @click.argument("office")
    @click.argument("start")
    @click.argument("leika", nargs=-1, required=True)
    @click.option("--family-name", required=True)
    @click.option("--email")
    @click.option("--telephone")
    @answer
    @pass_hub
    def book(
        h: Any,
        office: str,
        start: str,
        leika: tuple[str, ...],
        family_name: str,
        email: str | None,
        telephone: str | None,
        answers: tuple[str, ...],
    ) -> None:
        """Book for a caller (classic channel): reserve START at OFFICE and confirm at once."""

        if not (email or telephone):
            raise click.ClickException("--email or --telephone: how the office reaches them")
        try:
            when = datetime.fromisoformat(start)
        except ValueError:
            raise click.ClickException("START: an ISO 8601 time with offset") from None
        b = system(h)
        given = answered(answers)
        made = run(
            lambda: b.reserve(
                office,
                [(k, 1) for k in leika],
                when,
                channel="classic",
                booked_by="cli",
                answers=given,
            )
        )
        done = run(lambda: b.confirm(made["id"], hub.BookingContact(family_name, email, telephone)))
        click.echo(f"{done['id']}  {done['status']}  {done['start']}")

    @appointments.command("walk-in")
    @click.argument("office")
    @click.argument("leika", nargs=-1, required=True)
    @click.option("--record", "record_id", help="The record the visit produced")
    @pass_hub
    def walk_in(h: Any, office: str, leika: tuple[str, ...], record_id: str | None) -> None:
        """Record a citizen served at OFFICE without an appointment."""
        done = run(
            lambda: system(h).walk_in(
                office, [(k, 1) for k in leika], booked_by="cli", record_id=record_id
            )
        )
        click.echo(f"{done['id']}  {done['status']}  {done['start']}")

    @appointments.command("cancel")
    @click.argument("appointment_id")
    @pass_hub
    def cancel(h: Any, appointment_id: str) -> None:
        """Cancel an appointment (staff)."""
        done = run(lambda: system(h).cancel(appointment_id, token=None, staff=True))
        click.echo(f"{done['id']}  {done['status']}")


@hub.hookimpl
def register_statuses(register: Any) -> None:
    """What a record learns about the appointment that belongs to it."""
    register(
        "appointment",
        {
            "booked": "An appointment for this case is confirmed (time and place in the detail)",
            "cancelled": "The appointment for this case was cancelled",
            "attended": "The citizen came to the appointment",
            "no_show": "The citizen did not come to the appointment",
            "walk_in": "The citizen came without an appointment and was served",
        },
    )


@hub.hookimpl
def booking_cancelled(hub: Any, system: str, process_id: str, reason: str) -> None:
    """A booking system called an appointment off (an Einsatz was cancelled): the appointment
    says so, with the reason, and its record learns it."""
    found = STATE(hub)
    if found is not None:
        found.cancelled_by_system(system, process_id, reason)
