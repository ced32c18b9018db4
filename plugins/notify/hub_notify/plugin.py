"""Hook implementations of the notify plugin: what triggers a message, the ``notify`` adapter
that sends it, the schedule of reminders, the unsubscribe link and the print queue. Active
only where ``[plugins.notify]`` is configured."""

from __future__ import annotations

from typing import Any

import hub

NAME = "notify"
STATUSES = {
    "sent": "A message went to the citizen (the detail names the event and the channel)",
    "letter_queued": "A letter to the citizen waits in the office's print queue",
    "skipped": "No message: no consent, unsubscribed, or no channel reaches the citizen",
    "bounced": "The mail server refused the citizen's address",
    "uncertain": "A message may have been sent before a crash; it was not sent again",
    "unsubscribed": "The citizen asked for no more messages about this case",
}


def settings(h: Any) -> Any:
    from hub_notify.settings import SETTINGS

    return SETTINGS(h)


@hub.hookimpl
def register_settings(register: Any) -> None:
    """``[plugins.notify]`` and ``[adapters.*]`` of type ``notify``."""
    from hub_notify.settings import NotifyAdapterSettings, NotifySettings

    register(NotifySettings)
    register(NotifyAdapterSettings, adapter_type="notify")


@hub.hookimpl
def register_tables(register: Any) -> None:
    """Messages, the schedule, unsubscribe tokens, letters."""
    from hub_notify import tables

    register(tables)


@hub.hookimpl
def register_statuses(register: Any) -> None:
    """What became of a message (``notify:*``)."""
    register("notify", STATUSES)


@hub.hookimpl
def register_adapters(register: Any) -> None:
    """``notify``: e-mail, else a letter (follow-ups per event; routed, a confirmation)."""

    def make(raw: dict[str, Any], h: Any) -> Any:
        from hub_notify.sender import NotifyAdapter
        from hub_notify.settings import NotifyAdapterSettings

        return NotifyAdapter(hub.parse_settings(NotifyAdapterSettings, raw), h)

    register("notify", make, description="Messages to citizens: e-mail, letters")


@hub.hookimpl
def record_status_changed(
    hub: Any, record_id: str, status: str, adapter: str | None, detail: str | None
) -> None:
    """A status the configuration names (``triggers``) queues its message."""
    if NAME not in hub.config.plugins:
        return
    found = settings(hub)
    event = found.triggers.get(status)
    if event is None:
        return
    from hub_notify.schedule import tell

    # The detail is the reason the backend gave with the status, meant for the citizen.
    tell(hub, found, record_id, event, {"event": event, "detail": detail})


@hub.hookimpl
def appointment_changed(hub: Any, change: Any) -> None:
    """Booked: the confirmation with a calendar entry, reminders; cancelled: the message."""
    if NAME not in hub.config.plugins:
        return
    from hub_notify.schedule import appointment

    appointment(hub, settings(hub), change)


@hub.hookimpl
def register_services(register: Any, hub: Any) -> None:
    """Queue reminders and held messages when they are due."""
    if NAME not in hub.config.plugins:
        return
    from hub import PeriodicTask
    from hub_notify.schedule import queue_due

    register(
        "notify_schedule",
        PeriodicTask("notify_schedule", lambda: queue_due(hub, settings(hub)), 30),
    )


@hub.hookimpl
def register_routes(register: Any, hub: Any) -> None:
    """The unsubscribe link, reported bounces, the letters' print queue."""
    if hub is None or NAME not in hub.config.plugins:
        return
    from hub_notify.routes import router

    register(router(hub))


@hub.hookimpl
def register_console_pages(register: Any, hub: Any) -> None:
    """Briefe (ops): the print queue of the person's municipalities."""
    if hub is None or NAME not in hub.config.plugins:
        return
    from hub_notify.console import page

    register(page())
