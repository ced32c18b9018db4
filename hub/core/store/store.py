"""The durable store: records, their deliveries (the outbox), history and step checkpoints.

The same code runs on SQLite (default, WAL with ``synchronous=FULL``) and PostgreSQL. Leasing
uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has a single writer anyway, and every write
transaction there starts with ``BEGIN IMMEDIATE`` so two writers queue instead of failing.
"""

from __future__ import annotations

from hub.core.store.engine import Connections
from hub.core.store.history import History
from hub.core.store.intake import IntakeWrites
from hub.core.store.leases import Leasing
from hub.core.store.reads import RecordReads
from hub.core.store.types import (
    ACTIVE,
    Accepted,
    IdempotencyConflict,
    Lease,
    NewRecord,
    Outcome,
    RecordSummary,
    StatusChange,
    utcnow,
)


class Store(IntakeWrites, RecordReads, Leasing, History, Connections):
    """All database access of the core. Thread-safe; every method is one transaction. Each
    job lives in a module of its own (intake, reads, leases, history, engine, types)."""


__all__ = [
    "ACTIVE",
    "Accepted",
    "IdempotencyConflict",
    "Lease",
    "NewRecord",
    "Outcome",
    "RecordSummary",
    "StatusChange",
    "Store",
    "utcnow",
]
