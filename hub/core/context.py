"""What the core hands to plugin code: delivery, enrichment and check contexts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import structlog

if TYPE_CHECKING:  # pragma: no cover
    from hub.core.hub import Hub

T = TypeVar("T")


@dataclass
class DeliveryContext:
    """Everything an adapter's ``deliver`` may use; nothing else is needed from the core."""

    hub: Hub
    record_id: str
    adapter: str
    attempt: int
    settings: dict[str, Any]
    http: httpx.Client
    log: structlog.stdlib.BoundLogger
    # A follow-up (hub.Hub.follow_up): its task name and JSON payload; '' and None otherwise.
    task: str = ""
    payload: Any = None

    @property
    def idempotency_key(self) -> str:
        """Stable across retries: one key per record and adapter (and follow-up task)."""
        base = f"{self.record_id}:{self.adapter}"
        return f"{base}:{self.task}" if self.task else base

    def _step_key(self, name: str) -> str:
        # A follow-up's steps are its own: its "send" is not the first delivery's "send".
        return f"{self.task}/{name}" if self.task else name

    def step(self, name: str, fn: Callable[[], T]) -> T:
        """Run a side effect once per record and adapter, across retries and crashes.

        If step ``name`` succeeded on an earlier attempt, its stored result is returned and ``fn``
        is not called. Otherwise ``fn()`` runs and its (JSON-serialisable) result is committed
        before ``step`` returns. A crash between the side effect and the commit repeats the side
        effect, so remote calls should carry :attr:`idempotency_key` or be checkable (XTA's
        transport report, FIT-Connect's submission id).
        """
        key = self._step_key(name)
        done, result = self.hub.store.checkpoint_get(self.record_id, self.adapter, key)
        if done:
            self.log.debug("step_skipped", step=name)
            return result
        result = fn()
        self.hub.store.checkpoint_put(self.record_id, self.adapter, key, result)
        return result

    def done(self, name: str) -> bool:
        """Whether step ``name`` completed before this call (on this or an earlier attempt).

        Ask this, not :attr:`attempt`, to decide whether a side effect may already have
        happened: after a crash, a taken-over lease or ``hub retry`` the attempt number says
        nothing about which steps ran."""
        return self.hub.store.checkpoint_get(self.record_id, self.adapter, self._step_key(name))[0]

    def report_status(
        self, status: str, detail: str | None = None, *, key: str | None = None
    ) -> bool:
        """Record a registered status (``acme:received``) in the record's history; with
        ``key`` at most once, however often a retry repeats the call (False the next time)."""
        return self.hub.report_status(self.record_id, status, detail, adapter=self.adapter, key=key)


@dataclass
class EnrichContext:
    hub: Hub
    client: str
    log: structlog.stdlib.BoundLogger = field(
        default_factory=lambda: structlog.get_logger("hub.enrich")
    )


@dataclass
class CheckContext:
    hub: Hub
    adapter: str
    settings: dict[str, Any]
    http: httpx.Client
    log: structlog.stdlib.BoundLogger
