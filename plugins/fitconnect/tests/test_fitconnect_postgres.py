"""The subscriber on PostgreSQL: its migrations and one accepted submission."""

from __future__ import annotations

from hub.testing import Hub, postgres_schema


def test_subscriber_on_postgresql(simulator, subscriber_config, send) -> None:
    with postgres_schema("fitconnect") as url:
        config = subscriber_config(simulator.url)
        config.store.url = url
        h = Hub(config)
        h.start(intake_thread=False)
        try:
            channel = h.registry.channel_types["fitconnect_subscriber"].factory(
                dict(h.config.channels["fitconnect_subscriber"]), h
            )
            send(simulator, attachments={"a.pdf": b"%PDF-1.4 pg"})
            assert channel.poll()["accepted"] == 1
            [row] = h.store.list_records(limit=5)
            record = h.store.get_record(row.id)
            assert h.attachments.read(str(record.id), record.attachments[0].id) == b"%PDF-1.4 pg"
        finally:
            h.close()
