"""The store's semantics, run the same against SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hub.core.record import Record, Submission
from hub.core.store import Accepted, IdempotencyConflict, NewRecord, Outcome, Store, utcnow
from hub.core.store.schema import metadata
from hub.testing import sample_submission


def new_record(
    client: str = "portal",
    key: str | None = None,
    body: str = "b" * 64,
    adapters: tuple[str, ...] = ("file",),
    **overrides,
) -> NewRecord:
    sub = Submission.model_validate(sample_submission(**overrides))
    rec = Record(**sub.model_dump(), id=uuid.uuid4(), received_at=utcnow())
    return NewRecord(rec, client, key, body, list(adapters))


@pytest.fixture
def store(store_url: str):
    s = Store(store_url)
    s.migrate()
    yield s
    s.dispose()


def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrate_twice_is_harmless(store: Store) -> None:
    store.migrate()
    store.ping()


def test_insert_and_read_back(store: Store) -> None:
    item = new_record(adapters=("file", "crm"))
    [res] = store.insert_batch([item])
    assert res == Accepted(str(item.record.id), "accepted")
    rec = store.get_record(res.record_id)
    assert rec is not None
    assert rec.applicant.family_name == "Mustermann"
    assert rec.applicant.address.street == "Heidestraße 17"
    assert [d.adapter for d in rec.deliveries] == ["crm", "file"]
    assert {d.status.value for d in rec.deliveries} == {"accepted"}
    assert [h.status for h in rec.history] == ["accepted"]


def test_idempotency_replay_and_conflict_across_batches(store: Store) -> None:
    first = new_record(key="k-1", body="1" * 64)
    [a] = store.insert_batch([first])
    same = new_record(key="k-1", body="1" * 64)
    other_body = new_record(key="k-1", body="2" * 64)
    other_client = new_record(client="other", key="k-1", body="2" * 64)
    replay, conflict, separate = store.insert_batch([same, other_body, other_client])
    assert replay == Accepted(a.record_id, "accepted", replayed=True)
    assert conflict == IdempotencyConflict(a.record_id)
    assert isinstance(separate, Accepted) and separate.record_id != a.record_id
    assert store.count_by_status() == {"accepted": 2}


def test_idempotency_within_one_batch(store: Store) -> None:
    x = new_record(key="dup", body="3" * 64)
    y = new_record(key="dup", body="3" * 64)
    z = new_record(key="dup", body="4" * 64)
    rx, ry, rz = store.insert_batch([x, y, z])
    assert ry.record_id == rx.record_id and ry.replayed
    assert isinstance(rz, IdempotencyConflict)
    assert store.count_by_status() == {"accepted": 1}


def test_lease_deliver_complete(store: Store) -> None:
    [res] = store.insert_batch([new_record()])
    leases, changes = store.lease("w1", 10, 30)
    assert [(le.record_id, le.adapter, le.attempt) for le in leases] == [(res.record_id, "file", 1)]
    assert ("delivering", None) in {(c.status, c.adapter) for c in changes}
    assert store.lease("w2", 10, 30)[0] == []  # held by w1
    assert store.get_record(res.record_id).status.value == "delivering"
    changes = store.complete("w1", [Outcome(leases[0], "delivered", receipt={"ok": 1})])
    assert {(c.status, c.adapter) for c in changes} == {("delivered", "file"), ("delivered", None)}
    rec = store.get_record(res.record_id)
    assert rec.status.value == "delivered"
    assert rec.deliveries[0].attempts == 1 and rec.deliveries[0].delivered_at is not None
    assert store.lease("w1", 10, 30)[0] == []


def test_fan_out_keeps_state_per_adapter(store: Store) -> None:
    [res] = store.insert_batch([new_record(adapters=("a", "b"))])
    leases, _ = store.lease("w", 10, 30)
    by_adapter = {le.adapter: le for le in leases}
    store.complete(
        "w",
        [
            Outcome(by_adapter["a"], "delivered"),
            Outcome(
                by_adapter["b"],
                "retry",
                error="503",
                next_attempt_at=utcnow() + timedelta(seconds=60),
            ),
        ],
    )
    rec = store.get_record(res.record_id)
    states = {d.adapter: (d.status.value, d.attempts) for d in rec.deliveries}
    assert states == {"a": ("delivered", 1), "b": ("delivering", 1)}
    assert rec.status.value == "delivering"
    assert store.lease("w", 10, 30)[0] == []  # b is not due for a minute


def test_retry_then_dead_letter_then_manual_retry(store: Store) -> None:
    [res] = store.insert_batch([new_record()])
    [lease], _ = store.lease("w", 1, 30)
    store.complete("w", [Outcome(lease, "retry", error="timeout", next_attempt_at=utcnow())])
    [lease2], _ = store.lease("w", 1, 30)
    assert lease2.attempt == 2
    store.complete("w", [Outcome(lease2, "dead_letter", error="gave up")])
    rec = store.get_record(res.record_id)
    assert rec.status.value == "dead_letter"
    assert [d["record_id"] for d in store.dead_letters()] == [res.record_id]
    changes = store.retry_dead_letters(res.record_id)
    assert ("retry_requested", "file") in {(c.status, c.adapter) for c in changes}
    assert store.get_record(res.record_id).status.value == "accepted"
    [lease3], _ = store.lease("w", 1, 30)
    assert lease3.attempt == 1
    assert store.retry_dead_letters(res.record_id) == []  # nothing dead any more


def test_expired_lease_is_taken_over_and_the_old_owner_is_fenced(store: Store) -> None:
    store.insert_batch([new_record()])
    [old], _ = store.lease("dead-worker", 1, 0.2)
    time.sleep(0.3)
    [new], _ = store.lease("live-worker", 1, 30)
    assert new.delivery_id == old.delivery_id
    # The crashed worker's late report must not overwrite the new owner's work.
    assert store.complete("dead-worker", [Outcome(old, "dead_letter", error="late")]) == []
    store.complete("live-worker", [Outcome(new, "delivered")])
    assert store.get_record(new.record_id).status.value == "delivered"


def test_renew_keeps_a_lease_alive(store: Store) -> None:
    store.insert_batch([new_record()])
    [lease], _ = store.lease("w", 1, 0.3)
    time.sleep(0.15)
    assert store.renew("w", [lease.delivery_id], 0.5) == {lease.delivery_id}
    assert store.renew("someone-else", [lease.delivery_id], 0.5) == set()
    time.sleep(0.25)
    assert store.lease("thief", 1, 30)[0] == []


def test_release_hands_leases_back(store: Store) -> None:
    store.insert_batch([new_record()])
    [lease], _ = store.lease("w", 1, 60)
    store.release("w", [lease.delivery_id])
    [again], _ = store.lease("other", 1, 60)
    assert again.delivery_id == lease.delivery_id


def test_concurrent_leasing_never_hands_out_a_delivery_twice(store: Store) -> None:
    store.insert_batch([new_record() for _ in range(300)])
    taken: list[int] = []
    lock = threading.Lock()

    def work(owner: str) -> None:
        while True:
            leases, _ = store.lease(owner, 7, 60)
            if not leases:
                return
            with lock:
                taken.extend(le.delivery_id for le in leases)
            store.complete(owner, [Outcome(le, "delivered") for le in leases])

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 300
    assert Counter(taken).most_common(1)[0][1] == 1
    assert store.count_by_status() == {"delivered": 300}


def test_checkpoints(store: Store) -> None:
    [res] = store.insert_batch([new_record()])
    assert store.checkpoint_get(res.record_id, "xta", "message_id") == (False, None)
    store.checkpoint_put(res.record_id, "xta", "message_id", {"id": "urn:de:xta:1"})
    assert store.checkpoint_get(res.record_id, "xta", "message_id") == (
        True,
        {"id": "urn:de:xta:1"},
    )


def test_list_records_filters_and_pages(store: Store) -> None:
    store.insert_batch([new_record() for _ in range(5)])
    store.insert_batch([new_record(municipality={"ars": "053150000000"}) for _ in range(2)])
    assert len(store.list_records(ars_patterns=["05111*"])) == 5
    assert len(store.list_records(ars_patterns=["053150000000"])) == 2
    page1 = store.list_records(limit=4)
    page2 = store.list_records(limit=4, before=(page1[-1].received_at, page1[-1].id))
    ids = [r.id for r in page1 + page2]
    assert len(ids) == 7 and len(set(ids)) == 7
    assert store.list_records(status="delivered") == []


def test_add_history_and_unknown_record(store: Store) -> None:
    [res] = store.insert_batch([new_record()])
    assert store.add_history(res.record_id, "in_bearbeitung", "xmeld", "Az. 123") is True
    assert store.add_history(str(uuid.uuid4()), "x", None, None) is False
    assert store.get_record(res.record_id).history[-1].status == "in_bearbeitung"


def test_keyed_status_reports_apply_once(store: Store) -> None:
    [res] = store.insert_batch([new_record()])
    assert (
        store.add_history(
            res.record_id, "meldebehoerde:continues", "xmeld", "Az. 1", key="xta:answer-1"
        )
        is True
    )
    assert (
        store.add_history(
            res.record_id, "meldebehoerde:continues", "xmeld", "Az. 1", key="xta:answer-1"
        )
        is False
    )  # fetched again after a crash
    assert store.status_report_seen("xta:answer-1")
    statuses = [h.status for h in store.get_record(res.record_id).history]
    assert statuses.count("meldebehoerde:continues") == 1
