"""Fetching the Meldebehörde's answers from the XTA mailbox, close-after-process.

Each waiting message is fetched, validated, read and applied to its record; only then is it
closed. A crash before the close leaves it in the mailbox: the next run fetches it again,
recognises it by its XTA MessageID (the key of the applied status report) and only closes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from hub_xmeld import answers, xta
from hub_xmeld.schemas import XMeldSchema

log = structlog.get_logger("hub.xmeld")


@dataclass
class InboxRun:
    applied: int = 0
    duplicates: int = 0
    refused: int = 0
    unknown: int = 0


def process_inbox(
    h: Any, client: xta.XtaClient, schema: XMeldSchema, correlate: Callable[[str], str | None]
) -> InboxRun:
    """One pass over the mailbox. ``correlate`` maps the nachrichtenUUID an answer refers to
    onto the record it belongs to."""
    run = InboxRun()
    for waiting in xta.status_list(client):
        key = f"xta:{waiting.message_id}"
        if h.store.status_report_seen(key):
            xta.close(client, waiting.message_id)  # applied before a crash: just acknowledge
            run.duplicates += 1
            continue
        content = xta.fetch(client, waiting.message_id)
        try:
            answer = answers.read_answer(content, schema)
        except answers.AnswerRefused as exc:
            log.warning(
                "xmeld_answer_refused", message_id=waiting.message_id, issues=len(exc.issues)
            )
            xta.close(client, waiting.message_id)
            run.refused += 1
            continue
        record_id = correlate(answer.answers_uuid)
        if record_id is None:
            log.warning("xmeld_answer_unknown_record", message_id=waiting.message_id)
            xta.close(client, waiting.message_id)
            run.unknown += 1
            continue
        if answers.report(h, record_id, answer, key=key):
            run.applied += 1
        else:
            run.duplicates += 1
        xta.close(client, waiting.message_id)
    return run
