"""Generation of the hub's JSON Schemas (``schemas/`` in the repository)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.core.config import HubConfig
from hub.core.record import Record, Submission

_ID_BASE = "urn:hub:schema:"


def _with_header(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _ID_BASE + name,
        **schema,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    return {
        "record.schema.json": _with_header(
            Record.model_json_schema(mode="serialization"), "record"
        ),
        "submission.schema.json": _with_header(Submission.model_json_schema(), "submission"),
        "config.schema.json": _with_header(HubConfig.model_json_schema(), "config"),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
