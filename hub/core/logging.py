"""structlog set-up: JSON lines, record id bound through contextvars, personal data dropped.

Call sites log ids, counts and error types only. As a second line of defence a processor drops
any key that names a personal-data field, should one slip into a log call.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

PERSONAL_KEYS = frozenset(
    {
        "given_names",
        "family_name",
        "birth_name",
        "date_of_birth",
        "place_of_birth",
        "address",
        "street",
        "postal_code",
        "email",
        "phone",
        "applicant",
        "payload",
        "nationality",
        "bpk2",
        "token",
        "secret",
        "password",
        "authorization",
    }
)


def drop_personal_data(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in PERSONAL_KEYS.intersection(event):
        event[key] = "[redacted]"
    return event


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            drop_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
