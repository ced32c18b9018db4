"""Delivery workers: lease due deliveries, call adapters, record the outcome.

At-least-once: a delivery is marked done only after the adapter returned. Leases carry an owner
and an expiry; a worker that dies leaves leases that expire and are taken over. While a worker is
busy its leases are renewed, so a slow delivery is never run twice at once.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from hub.core.context import DeliveryContext
from hub.core.errors import PermanentError, TransientError
from hub.core.store import Lease, Outcome, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from hub.core.hub import Hub
    from hub.core.store.wakeups import DeliveryListener

log = structlog.get_logger("hub.dispatch")
GROUP_SECONDS = 0.25  # outcomes wait at most this long to be recorded


def backoff_delay(attempt: int, initial: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, never above ``cap``."""
    ceiling = min(cap, initial * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Dispatcher:
    """A pool of delivery threads for one process."""

    def __init__(self, hub: Hub, workers: int | None = None):
        self.hub = hub
        self.cfg = hub.config.delivery
        self.workers = self.cfg.workers if workers is None else workers
        self._stopping = threading.Event()
        self._wake = threading.Condition()
        self._pending_wake = False
        self._threads: list[threading.Thread] = []
        self._inflight: dict[str, set[int]] = {}
        # Until when (monotonic) each held lease is known to be ours: set at lease time,
        # moved on by each renewal that extended it, dropped once its delivery is done.
        self._held_until: dict[int, float] = {}
        self._inflight_lock = threading.Lock()
        self._rng = random.Random()
        self.listener: DeliveryListener | None = None  # PostgreSQL: LISTEN/NOTIFY wake-ups
        base = f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._owners = [f"{base}:{n}" for n in range(self.workers)]

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.workers == 0 or self._threads:
            return
        for owner in self._owners:
            t = threading.Thread(
                target=self._loop, args=(owner,), name=f"hub-deliver-{owner}", daemon=True
            )
            t.start()
            self._threads.append(t)
        renewer = threading.Thread(target=self._renew_loop, name="hub-lease-renew", daemon=True)
        renewer.start()
        self._threads.append(renewer)
        if self.cfg.listen and self.hub.store.dialect == "postgresql":
            from hub.core.store.wakeups import DeliveryListener

            self.listener = DeliveryListener(self.hub.store.url, self.wake)
            self.listener.start()
        log.info("dispatcher_started", workers=self.workers)

    def stop(self, drain_seconds: float | None = None) -> bool:
        """Stop leasing, let in-flight deliveries finish (up to ``drain_seconds``)."""
        self._stopping.set()
        if self.listener is not None:
            self.listener.stop()
        self.wake()
        deadline = time.monotonic() + (
            self.cfg.drain_seconds if drain_seconds is None else drain_seconds
        )
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        drained = not any(t.is_alive() for t in self._threads)
        log.info("dispatcher_stopped", drained=drained)
        self._threads = []
        return drained

    @property
    def alive(self) -> bool:
        return self.workers == 0 or (
            bool(self._threads) and all(t.is_alive() for t in self._threads)
        )

    def wake(self) -> None:
        """Called by intake after a commit so idle workers start at once instead of polling."""
        with self._wake:
            self._pending_wake = True
            self._wake.notify_all()

    def _idle(self) -> None:
        wait = self.cfg.poll_interval
        if self.listener is not None and self.listener.connected.is_set():
            wait = self._until_next_due()
        with self._wake:
            if not self._pending_wake:
                self._wake.wait(wait)
            self._pending_wake = False

    def _until_next_due(self) -> float:
        """While notifications wake us: sleep until the next retry or lease end, at most
        ``listen_poll_interval`` (new work arrives by NOTIFY)."""
        longest = self.cfg.listen_poll_interval
        try:
            due = self.hub.store.next_due()
        except Exception:  # the lease attempt that follows reports it
            return self.cfg.poll_interval
        if due is None:
            return longest
        return min(longest, max(0.05, (due - utcnow()).total_seconds()))

    # --- work ----------------------------------------------------------------------------------

    def drain(self, batch: int = 64) -> int:
        """Deliver what is due in the calling thread until nothing due is left; deliveries
        whose retry lies ahead stay queued. Returns the deliveries attempted."""
        owner = f"{socket.gethostname()[:24]}:{os.getpid()}:drain:{uuid.uuid4().hex[:6]}"
        attempted = 0
        while True:
            leases, changes = self.hub.store.lease(owner, batch, self.cfg.lease_seconds)
            self.hub.notify(changes)
            if not leases:
                return attempted
            self.run_batch(owner, leases)
            attempted += len(leases)

    def _loop(self, owner: str) -> None:
        while not self._stopping.is_set():
            try:
                leases, changes = self.hub.store.lease(
                    owner, self.cfg.batch_size, self.cfg.lease_seconds
                )
            except Exception as exc:  # database unavailable: wait and try again
                log.error("lease_failed", error=type(exc).__name__)
                self._stopping.wait(min(5.0, self.cfg.poll_interval * 4))
                continue
            self.hub.notify(changes)
            if not leases:
                self._idle()
                continue
            self.run_batch(owner, leases)

    def run_batch(self, owner: str, leases: list[Lease]) -> None:
        """Deliver a leased batch, recording outcomes as they come in small groups
        (``complete_every``, or after ``GROUP_SECONDS``): a crash repeats at most the group
        and the delivery in flight. An item whose lease no renewal kept ours is not started
        (another worker may have it by now)."""
        until = time.monotonic() + self.cfg.lease_seconds
        with self._inflight_lock:
            held = self._inflight.setdefault(owner, set())
            held.update(lease.delivery_id for lease in leases)
            for lease in leases:
                self._held_until[lease.delivery_id] = until
        group: list[Outcome] = []
        started = time.monotonic()
        unstarted: list[Lease] = []
        try:
            for lease in leases:
                if self._stopping.is_set() or not self._still_ours(lease.delivery_id):
                    unstarted.append(lease)
                    continue
                group.append(self._deliver(lease))
                full = len(group) >= self.cfg.complete_every
                if full or time.monotonic() - started >= GROUP_SECONDS:
                    self._record(owner, group, held)
                    group, started = [], time.monotonic()
            self._record(owner, group, held)
            if unstarted:
                self.hub.store.release(owner, [lease.delivery_id for lease in unstarted])
        finally:
            with self._inflight_lock:
                for lease in leases:
                    held.discard(lease.delivery_id)
                    self._held_until.pop(lease.delivery_id, None)

    def _still_ours(self, delivery_id: int) -> bool:
        """Whether the lease is ours for a while yet: a renewal extends it every third of
        its length, so less than that left means renewals have stopped reaching it."""
        with self._inflight_lock:
            until = self._held_until.get(delivery_id, 0.0)
        return until - time.monotonic() > self.cfg.lease_seconds / 3

    def _record(self, owner: str, group: list[Outcome], held: set[int]) -> None:
        if not group:
            return
        ids = {outcome.lease.delivery_id for outcome in group}
        with self._inflight_lock:  # delivered: a renewal missing them found them done, not taken
            for delivery_id in ids:
                self._held_until.pop(delivery_id, None)
        self._complete(owner, self._flush(group))
        with self._inflight_lock:  # recorded: no longer ours to renew
            held.difference_update(ids)

    def _flush(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Let adapters make a batch durable at once (``flush()``, optional) before it counts
        as delivered; a failed flush turns that adapter's deliveries into retries."""
        failed: dict[str, str] = {}
        for name in {o.lease.adapter for o in outcomes if o.kind == "delivered"}:
            flush = getattr(self.hub.adapters.get(name), "flush", None)
            if flush is None:
                continue
            try:
                flush()
            except Exception as exc:
                failed[name] = f"flush failed: {type(exc).__name__}"
        if not failed:
            return outcomes
        log.error("adapter_flush_failed", adapters=sorted(failed))
        return [
            self._failed(o.lease, TransientError(failed[o.lease.adapter]), log)
            if o.kind == "delivered" and o.lease.adapter in failed
            else o
            for o in outcomes
        ]

    def _complete(self, owner: str, outcomes: list[Outcome]) -> None:
        for delay in (0.5, 1, 2, 4, 8, None):
            try:
                changes = self.hub.store.complete(owner, outcomes)
                break
            except Exception as exc:
                # Outcomes are lost if we give up; the leases then expire and the deliveries run
                # again (at-least-once), so keep trying a while before that.
                log.error("complete_failed", error=type(exc).__name__)
                if delay is None:
                    return
                time.sleep(delay)
        self.hub.metrics.observe_outcomes(outcomes)
        self.hub.notify(changes)

    def _deliver(self, lease: Lease) -> Outcome:
        adapter = self.hub.adapters.get(lease.adapter)
        record_log = log.bind(
            record_id=lease.record_id, adapter=lease.adapter, attempt=lease.attempt
        )
        if adapter is None:
            return self._failed(
                lease,
                TransientError(
                    f"adapter instance {lease.adapter!r} is not configured in this process"
                ),
                record_log,
            )
        ctx = DeliveryContext(
            hub=self.hub,
            record_id=lease.record_id,
            adapter=lease.adapter,
            attempt=lease.attempt,
            settings=self.hub.config.adapters.get(lease.adapter, {}),
            http=self.hub.http_for(lease.adapter),
            log=record_log,
            task=lease.task,
            payload=json.loads(lease.payload) if lease.payload else None,
        )
        started = time.perf_counter()
        try:
            with structlog.contextvars.bound_contextvars(
                record_id=lease.record_id, adapter=lease.adapter
            ):
                if lease.task:
                    receipt = adapter.follow_up(lease.record(), ctx)
                else:
                    receipt = adapter.deliver(lease.record(), ctx)
        except PermanentError as exc:
            record_log.warning("delivery_rejected", error=str(exc))
            return Outcome(lease, "dead_letter", error=f"permanent: {exc}")
        except TransientError as exc:
            return self._failed(lease, exc, record_log)
        except Exception as exc:
            # An adapter bug: the message may quote record data, so only its type is kept.
            return self._failed(
                lease, TransientError(f"unexpected {type(exc).__name__}"), record_log
            )
        finally:
            self.hub.metrics.delivery_seconds(lease.adapter, time.perf_counter() - started)
        record_log.info("delivered")
        return Outcome(lease, "delivered", receipt=receipt if isinstance(receipt, dict) else None)

    def _failed(
        self, lease: Lease, exc: TransientError, record_log: structlog.stdlib.BoundLogger
    ) -> Outcome:
        delay = backoff_delay(
            lease.attempt, self.cfg.backoff_initial, self.cfg.backoff_max, self._rng
        )
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.cfg.backoff_max))
        next_at = utcnow() + timedelta(seconds=delay)
        age = (next_at - lease.received_at).total_seconds()
        if lease.attempt >= self.cfg.max_attempts or age > self.cfg.max_age_seconds:
            record_log.warning("delivery_dead_lettered", error=str(exc))
            return Outcome(
                lease, "dead_letter", error=f"gave up after {lease.attempt} attempt(s): {exc}"
            )
        record_log.info("delivery_retry", error=str(exc), delay=round(delay, 3))
        return Outcome(lease, "retry", error=str(exc), next_attempt_at=next_at)

    def _renew_loop(self) -> None:
        interval = self.cfg.lease_seconds / 3
        last = time.monotonic()
        while True:
            if self._stopping.is_set():
                time.sleep(0.05)  # draining: exit as soon as nothing is in flight
            else:
                self._stopping.wait(min(0.2, interval))
            with self._inflight_lock:
                snapshot = {owner: set(ids) for owner, ids in self._inflight.items() if ids}
            if self._stopping.is_set() and not snapshot:
                return
            if time.monotonic() - last < interval:
                continue
            last = time.monotonic()
            for owner, ids in snapshot.items():
                asked = time.monotonic()
                try:
                    extended = self.hub.store.renew(owner, ids, self.cfg.lease_seconds)
                except Exception as exc:
                    log.error("lease_renew_failed", error=type(exc).__name__)
                    continue
                with self._inflight_lock:
                    for delivery_id in extended:
                        if delivery_id in self._held_until:
                            self._held_until[delivery_id] = asked + self.cfg.lease_seconds
                with self._inflight_lock:  # not extended because recorded meanwhile: done
                    lost = [i for i in ids - extended if i in self._held_until]
                if lost:
                    log.warning("leases_lost", count=len(lost))
