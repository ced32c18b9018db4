"""Hook specifications: the whole public plugin surface of the hub.

Registration hooks receive a ``register`` callback instead of returning values, so the core keeps
control of names, duplicates and validation (a clash is a configuration error at start-up, not a
silent override). Every hook is documented in ``docs/plugins.md``; a test fails when one is not.

Implement a hook with ``@hub.hookimpl`` in a module named by an entry point of the group ``hub``::

    [project.entry-points.hub]
    my_connector = "my_connector.plugin"

A hook implementation may accept any subset of the arguments listed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    import click

    from hub.core.booking import AppointmentChange, EinsatzPlan, RegisterBookingSystem
    from hub.core.hub import Hub
    from hub.core.registry import (
        RegisterAdapter,
        RegisterAttachmentBackend,
        RegisterChannel,
        RegisterEnricher,
        RegisterIdentityProvider,
        RegisterPayloadSchema,
        RegisterPoller,
        RegisterRoute,
        RegisterService,
        RegisterSettings,
        RegisterStatuses,
        RegisterTables,
    )

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")


@hookspec
def register_adapters(register: RegisterAdapter) -> None:
    """Register adapter types that deliver records to a backend.

    Call ``register(name, factory, description=...)`` once per adapter type. ``factory(settings,
    hub)`` is called at start-up for every ``[adapters.<instance>]`` table whose ``type`` (default:
    the table name) is ``name``; ``settings`` is that table as a dict. It returns an object with

    * ``deliver(record, ctx) -> dict | None`` (required, synchronous): hand the record over. Raise
      :class:`hub.TransientError` to retry later, :class:`hub.PermanentError` to dead-letter.
      ``ctx`` is a :class:`hub.DeliveryContext` (settings, httpx client, bound logger,
      checkpointed ``ctx.step``). A returned dict is stored as the delivery's receipt.
    * ``check(ctx) -> str | None`` (optional): configuration/connectivity check for ``hub doctor``;
      return a short success text, raise :class:`hub.ConfigurationError` or an adapter error.
    * ``flush() -> None`` (optional): called once after a worker delivered a batch and before the
      batch is recorded as delivered; make the batch durable here at once (one directory fsync
      for many files). If it raises, the batch's deliveries to this adapter are retried.

    The factory raises :class:`hub.ConfigurationError` for unusable settings; the hub then refuses
    to start.
    """


@hookspec
def register_pollers(register: RegisterPoller) -> None:
    """Register pollers: loops that follow what became of records elsewhere (events of a
    delivery service, answers in a mailbox) and report it, bringing no new records.

    Call ``register(name, factory, interval=30.0)``. For each configured ``[pollers.<name>]``
    table ``hub serve`` calls ``factory(settings, hub)`` (the table without ``interval``,
    which is the core's: seconds between polls, else the registered default) and then the
    returned object's ``poll()`` in a thread of its own: once at start, then every interval.
    ``poll`` does one round and returns; raise :class:`hub.TransientError` when the remote
    side is away — the core logs it, counts it (``hub_polls_total{poller,outcome}``) and backs
    off up to ten intervals; ``GET /v1/pollers`` shows each one's last success and error.
    """


@hookspec
def register_channels(register: RegisterChannel) -> None:
    """Register intake channels: long-running sources of new records (mailbox readers,
    subscribers of a delivery service). A loop that only follows status is a poller.

    Call ``register(name, factory)``. For each configured ``[channels.<name>]`` table the daemon
    calls ``factory(settings, hub)`` and runs the returned object's ``run(stop)`` in a thread of
    its own, where ``stop`` is a :class:`threading.Event` set at shutdown. A channel submits with
    ``hub.intake.submit(submission, client=..., idempotency_key=...)``; it must only acknowledge
    upstream after that call has returned (the record is then durable).
    """


@hookspec
def register_enrichers(register: RegisterEnricher) -> None:
    """Register record enrichers/validators that run on every submission before it is stored.

    Call ``register(name, enricher, phase="check", routed_only=False, blocking=True)``.
    Enrichers run phase by phase — ``catalogue`` (fill names, authorities), ``identity``
    (check the applicant's identity), ``check`` (protocol checks) — in pluggy's call order
    within a phase. With ``routed_only=True`` an enricher runs only for records routed to one
    of this plugin's adapter types (a protocol's dry run belongs to the records that use the
    protocol); likewise a plugin's payload schemas bind only records routed to its adapters, if
    it registers any.
    ``enricher(record, ctx)`` receives the draft :class:`hub.Record` (mutable) and an
    :class:`hub.EnrichContext`; it may fill fields (service name, OZG id, responsible
    authority) or raise :class:`hub.IntakeRejected` naming the field and rule. It must not block
    intake on a slow or failing remote service: degrade and carry on (or look it up after the
    commit, as the catalogue does with PVOG). ``blocking=False`` declares that the enricher
    only computes and reads memory or the hub's store (no network, no large files): when every
    enricher says so, intake runs them on the server's event loop and saves each request two
    thread switches; one blocking enricher sends every record's enrichment to a thread.
    """


@hookspec
def register_identity_providers(register: RegisterIdentityProvider, hub: Hub) -> None:
    """Register identity providers that vouch for the applicant of an HTTP submission.

    Call ``register(name, provider)``; ``hub`` is the hub they serve.
    ``provider.identify(request)`` receives the Starlette request of ``POST /v1/records`` and
    returns a :class:`hub.IdentityClaim` (identity with trust level, plus applicant fields as the
    provider delivered them) or ``None`` when the request has no session of this provider.
    The claim's fields override the client's, field by field.
    """


@hookspec
def register_booking_systems(register: RegisterBookingSystem, hub: Hub) -> None:
    """Register booking systems: places where citizens and staff book appointments.

    Call ``register(name, system)`` with a :class:`hub.BookingSystem` (``catalogue``,
    ``free_slots``, ``reserve``, ``confirm``, ``cancel``, ``details``); ``hub`` is the hub it
    serves (``None`` while plugins are only listed). The appointments plugin offers every
    registered system through ``/v1/appointments``, its offices as ``<name>:<office id>``,
    with the office's ARS and the services' LeiKa keys as the system gives them. A plugin
    whose own data makes a slot book (a mobile office's Einsätze) registers it here instead of
    building a booking API of its own. Raise :class:`hub.BookingError` subclasses for refusals
    and :class:`hub.TransientError` when the system is away.
    """


@hookspec
def booking_cancelled(hub: Hub, system: str, process_id: str, reason: str) -> None:
    """Be told that a booking system cancelled a booking on its own side (the office closed,
    the Einsatz was called off), after the change is durable there.

    Booking systems call :meth:`hub.Hub.booking_cancelled`; whoever keeps appointments of
    that system (the appointments plugin) marks them cancelled and tells the records they
    belong to. ``reason`` is meant for the citizen and holds no personal data. Exceptions are
    logged and dropped: the cancellation stands.
    """


@hookspec
def appointment_changed(hub: Hub, change: AppointmentChange) -> None:
    """Be told what became of an appointment (booked, cancelled, moved, attended, no_show,
    walk_in), after the change is durable — also for appointments that belong to no record.

    Whoever keeps appointments (the appointments plugin) calls
    :meth:`hub.Hub.appointment_changed` with a :class:`hub.AppointmentChange`: office, day,
    services, channel, never contact data. Reports count them (the evaluation plugin).
    Runs in the thread that made the change; exceptions are logged and dropped.
    """


@hookspec
def einsatz_planned(hub: Hub, plan: EinsatzPlan) -> None:
    """Be told an Einsatz of a mobile office as it is planned now, whenever it is planned,
    changed or called off: place, days and the slots each day offers.

    The planner (the mobile_office plugin) calls :meth:`hub.Hub.einsatz_planned` with a
    :class:`hub.EinsatzPlan`; the plan replaces what was told before about that Einsatz.
    Reports use it for the utilisation of offered slots and the map of places. Exceptions are
    logged and dropped: the plan stands.
    """


@hookspec
def register_payload_schemas(register: RegisterPayloadSchema) -> None:
    """Register JSON Schemas for the ``payload`` of records of a service.

    Call ``register(pattern, schema)`` where ``pattern`` is a full 14-digit LeiKa key or a prefix
    ending in ``*`` (``"99115005104*"``). The most specific pattern wins. Intake validates the
    payload against it (JSON Schema 2020-12) and rejects with the failing path and keyword.
    """


@hookspec
def register_settings(register: RegisterSettings) -> None:
    """Register pydantic models for the plugin's config tables.

    ``register(Model)`` covers ``[plugins.<this plugin>]``; ``register(Model,
    adapter_type="x")`` every ``[adapters.*]`` of type ``x``; ``register(Model,
    channel_type="x")`` ``[channels.x]``. The core validates every such table when the hub is
    built (one error listing each table, field and rule; the start is refused) and shows the
    models in ``hub config schema``. Factories still receive the table as a dict.
    """


@hookspec
def register_statuses(register: RegisterStatuses) -> None:
    """Register the statuses the plugin reports into records' histories.

    Call ``register(namespace, {name: meaning}, final=(...), media_break=(...))``:
    ``register("acme", {"received": "ACME has the case", "closed": "ACME closed the case"},
    final=("closed",))``. A report (``ctx.report_status`` or
    ``hub.report_status``) must then use ``"acme:received"``; an unregistered one raises
    ``ValueError`` before anything is written. Name a namespace after the backend whose
    status it is (``meldebehoerde``, ``passport_office``) or after your plugin; one plugin
    owns each namespace. ``final`` names the statuses that are the back office's last word on
    the case (registered, refused); ``media_break`` those that mean the case left the
    electronic path (the citizen must come in person, paper follows): reports measure the time
    to the final status and the share of cases handled end to end electronically
    (``hub.status_traits``). The core's own statuses (``accepted``, ``delivering``,
    ``delivered``, ``retry``, ``dead_letter``) have none. ``GET /v1/statuses`` and ``hub
    statuses`` list them all, for people and for what acts on a status (notifications).
    """


@hookspec
def register_attachment_backends(register: RegisterAttachmentBackend, hub: Hub) -> None:
    """Register places that keep attachment bytes the plugin's own way (encrypted at rest,
    destroyed after delivery), so the hub's one attachment store covers them too.

    Call ``register(name, backend)``; ``backend`` has ``client_readable`` (False: API clients
    see the attachment listed but get 403 for its bytes), ``open(ref)`` (a readable binary
    stream; ``LookupError`` when the bytes are gone) and ``delete(ref)`` (idempotent). Hand
    attachments in with ``hub.attachments.stage_held(attachment, backend=name, ref=...)`` and
    intake's ``files=``: the rows commit with the record. Adapters read them with
    ``hub.attachments.open(record_id, attachment_id)``; ``hub.attachments.delete`` destroys
    them through the backend.
    """


@hookspec
def register_tables(register: RegisterTables) -> None:
    """Register the plugin's own database tables and their migration history.

    Call ``register(tables)`` with the plugin's tables module — its ``metadata`` (SQLAlchemy
    ``MetaData``), its ``VERSION_TABLE`` (a name of its own, ``alembic_version_<plugin>``) and a
    ``migrations/`` Alembic history beside it whose ``env.py`` calls ``hub.migration_env()`` —
    or spell them out: ``register(folder, metadata=..., version_table=...)``. The core upgrades
    every registered history with its own: at start when ``store.auto_migrate`` is on, and
    always with ``hub db upgrade``. Plugins never migrate themselves.
    """


@hookspec
def register_routes(register: RegisterRoute, hub: Hub) -> None:
    """Add HTTP routes to the daemon.

    Call ``register(router)`` with a :class:`fastapi.APIRouter`; its routes are mounted into the
    hub's app and appear in ``/openapi.json``. ``hub`` gives access to config, store and intake.
    Plugin routes authenticate on their own terms (callbacks carry HMACs, devices their
    credentials); use :func:`hub.require_client` for the hub's bearer tokens.

    Request bodies are limited to ``server.max_body_bytes``. A router that streams large bodies
    and enforces its own limits (resumable uploads) sets ``router.streams_request_bodies = True``
    and a ``prefix``; the hub's limit then does not apply under that prefix.
    """


@hookspec
def register_console_pages(register: Callable[[Any], None], hub: Hub) -> None:
    """Add pages to the staff console (``/console``), in its navigation, sign-in and layout.

    Call ``register(hub.ConsolePage(name, path, title, scope, router))``: ``path`` under
    ``/console`` (``"/appointments"``), ``title`` as ``{"de": ..., "en": ...}``, ``scope`` the API
    scope a person's roles must give (``records:read``, ``records:write``, ``admin``), and an
    ``APIRouter`` whose handlers take ``view = Depends(hub.console_view(scope))``: the person
    (``view.staff``, ``view.client`` for :func:`hub.may_act_for`), ``view.csrf`` for forms and
    ``view.form_ok(token)`` to check it, ``view.audit(action, target)`` for every change, and
    ``view.page(title, html)`` to answer in the console's layout. No script: the console's
    Content-Security-Policy allows none.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``hub`` command line.

    Attach commands to ``cli`` (``@cli.command()`` or ``cli.add_command(group)``). Commands get the
    loaded :class:`hub.Hub` with ``hub.core.cli.pass_hub``.
    """


@hookspec
def record_status_changed(
    hub: Hub, record_id: str, status: str, adapter: str | None, detail: str | None
) -> None:
    """Be told after a record's status changed and the change is committed.

    Called for the core lifecycle (``accepted``, ``delivering``, ``delivered``, ``dead_letter``)
    and for statuses reported by backends through :meth:`hub.Hub.report_status` (for example the
    Meldebehörde's ``in_bearbeitung``). ``adapter`` names the delivery the change belongs to, or is
    ``None`` for the record as a whole. Runs in the thread that made the change; keep it quick,
    and never raise to veto: the change is already durable. Exceptions are logged and dropped.
    """


@hookspec
def hub_startup(hub: Hub) -> None:
    """Called once the hub is configured and its store is migrated, before serving.

    Use it to prepare plugin state (load a catalogue, open a mailbox). Raise
    :class:`hub.ConfigurationError` to refuse to start.
    """


@hookspec
def check_health(hub: Hub) -> list[tuple[str, bool, str]] | None:
    """Report what ``hub doctor`` should say about this plugin.

    Return a list of ``(name, ok, text)`` — e.g. ``("bundid metadata", False, "file missing")``
    — or ``None`` when there is nothing to check. Runs after ``hub_startup`` in a one-off
    process; it may read the store and files and call remote services with short timeouts.
    ``text`` must not contain personal data or secrets. An exception counts as one failed check.
    """


@hookspec
def register_services(register: RegisterService, hub: Hub) -> None:
    """Register background services that run while the hub serves (``hub serve``, never in
    one-off commands or ``hub worker``).

    Call ``register(name, service, dev_only=False)``; ``service`` has ``start()`` (returns once
    it runs) and ``stop()``. The core starts them after ``hub_startup``, in registration order,
    and stops them in reverse before ``hub_shutdown``. ``dev_only=True`` marks simulators of
    remote systems: each start is logged as a warning, so a production log shows them at once.
    Register only what the configuration asks for; build nothing expensive before ``start``.
    """


@hookspec
def hub_shutdown(hub: Hub) -> None:
    """Called once when the hub stops, after in-flight deliveries have drained."""


def all_hook_names() -> list[str]:
    """Names of every hook specification, for documentation checks and ``hub plugins``."""
    return sorted(
        name
        for name, value in globals().items()
        if callable(value) and hasattr(value, "hub_spec")  # set by HookspecMarker("hub")
    )
