"""The koffer plugin on PostgreSQL: its migrations, an upload and an application."""

from __future__ import annotations

from hub.testing import LiveHub, postgres_schema
from hub_bundesdruckerei.plugin import state as koffer_state


def test_upload_and_application_on_postgresql(
    tmp_path, master_key, koffer_config, images, application_for
) -> None:
    with postgres_schema("koffer") as url:
        config = koffer_config(tmp_path)
        config.store.url = url
        with LiveHub(config) as live:
            rid = application_for(live, images, case="case-pg-0001")
            record = live.hub.store.get_record(rid)
            assert record.channel.value == "koffer" and len(record.attachments) == 4
            store = koffer_state(live.hub)
            assert store.record_of_case("case-pg-0001") == rid
            assert all(store.get(a.id).complete for a in record.attachments)
