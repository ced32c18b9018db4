"""When to tell: a status that triggers a message is queued at once (or at the end of the
quiet hours); an appointment's reminders wait in the schedule until they are due; a cancelled
appointment drops its reminders. Everything is queued as a follow-up of the ``notify`` adapter
instance in the core outbox (one per record and task: queueing twice sends once)."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub import utcnow
from hub_notify import tables
from hub_notify.messages import BERLIN
from hub_notify.settings import NotifySettings

log = structlog.get_logger("hub.notify")
S = tables.schedule


def tell(h: Any, settings: NotifySettings, record_id: str, task: str, payload: dict) -> None:
    """Queue a message now, or hold it until the quiet hours end."""
    quiet = settings.quiet_until(utcnow().astimezone(BERLIN))
    if quiet is None:
        h.follow_up(record_id, settings.adapter, task, payload)
    else:
        hold(h, record_id, task, payload, quiet)


def hold(
    h: Any, record_id: str, task: str, payload: dict, due: datetime, appointment: str | None = None
) -> None:
    try:
        with h.store.transaction() as conn:
            conn.execute(
                insert(S).values(
                    record_id=record_id, task=task, payload=json.dumps(payload),
                    appointment_id=appointment, due_at=due,
                )
            )  # fmt: skip
    except IntegrityError:
        pass  # held already: the same message once


def appointment(h: Any, settings: NotifySettings, change: Any) -> None:
    """A booked appointment of a record: the confirmation, and its reminders held until due;
    a moved one: the new time, the old reminders dropped and new ones held; a cancelled one:
    the message, and its reminders dropped."""
    if change.record_id is None or change.status not in ("booked", "cancelled", "moved"):
        return
    about = {
        "id": change.appointment_id,
        "start": change.start.isoformat(),
        "place": change.place or change.office,
    }
    event = f"appointment_{change.status}"
    payload = {"event": event, "appointment": about, "detail": change.reason}
    if change.status in ("cancelled", "moved"):  # the reminders for the old time go
        with h.store.transaction() as conn:
            conn.execute(
                delete(S).where(
                    S.c.appointment_id == change.appointment_id, S.c.queued_at.is_(None)
                )
            )
    task = f"{event}:{change.appointment_id}"
    if change.status == "moved":
        task += f":{change.start:%Y%m%d%H%M}"  # each new time is a message of its own
    tell(h, settings, change.record_id, task[:64], payload)
    if change.status in ("booked", "moved"):
        now = utcnow()
        for hours in settings.reminders:
            due = change.start - timedelta(hours=hours)
            if due > now:
                task = f"reminder{hours}:{change.appointment_id}:{change.start:%Y%m%d%H%M}"[:64]
                hold(h, change.record_id, task, {"event": "reminder", "appointment": about},
                     due, change.appointment_id)  # fmt: skip


def queue_due(h: Any, settings: NotifySettings) -> int:
    """Queue what is due (never inside the quiet hours); returns how many."""
    now = utcnow()
    if settings.quiet_until(now.astimezone(BERLIN)) is not None:
        return 0
    with h.store.reading() as conn:
        due = conn.execute(
            select(S.c.record_id, S.c.task, S.c.payload)
            .where(S.c.queued_at.is_(None), S.c.due_at <= now)
            .order_by(S.c.due_at)
            .limit(500)
        ).all()
    for row in due:
        with contextlib.suppress(KeyError):  # the record is gone (deleted): nothing to tell
            h.follow_up(row.record_id, settings.adapter, row.task, json.loads(row.payload))
        with h.store.transaction() as conn:
            conn.execute(
                update(S)
                .where(S.c.record_id == row.record_id, S.c.task == row.task)
                .values(queued_at=now)
            )
    if due:
        log.info("notifications_queued", count=len(due))
    return len(due)


__all__ = ["appointment", "hold", "queue_due", "tell"]
