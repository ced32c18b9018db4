"""Durable storage of records and their deliveries."""

from hub.core.store.store import (
    Accepted,
    IdempotencyConflict,
    Lease,
    NewRecord,
    Outcome,
    StatusChange,
    Store,
    utcnow,
)

__all__ = [
    "Accepted",
    "IdempotencyConflict",
    "Lease",
    "NewRecord",
    "Outcome",
    "StatusChange",
    "Store",
    "utcnow",
]
