"""The xmeld plugin's tables on PostgreSQL: migrations, and answers finding their record."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert

import hub
from hub import utcnow
from hub.testing import Hub, hub_config, postgres_schema, sample_submission
from hub_xmeld import adapter, tables


def test_sent_messages_correlate_on_postgresql(tmp_path: Path) -> None:
    with postgres_schema("xmeld") as url:
        h = Hub(hub_config(url, tmp_path / "out", "xmeld-pg-token-0123"))
        h.start(intake_thread=False)
        try:
            revisions = h.migrate()  # started already: nothing to do the second time
            assert revisions["xmeld"] is not None
            data = sample_submission(service={"leika_key": "99115003012000"})
            rid = h.intake.submit(hub.Submission.model_validate(data), client="portal").record_id
            with h.store.transaction() as conn:
                conn.execute(
                    insert(tables.sent).values(
                        nachrichten_uuid="5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b",
                        record_id=rid,
                        message_type="1700",
                        xta_message_id="urn:x",
                        sent_at=utcnow(),
                    )
                )
            assert adapter.record_for(h.store, "5f0c8a1e-8d2b-4f7e-9a3c-1b2d3e4f5a6b") == rid
            assert adapter.record_for(h.store, "00000000-0000-0000-0000-000000000000") is None
        finally:
            h.close()
