"""FIT-Connect metadata schemas, read from one folder: ``$HUB_FITCONNECT_SCHEMA_DIR``, else
``$HUB_SHARED_DIR/fitconnect``, else ``../shared/fitconnect`` beside the repository. A metadata
document names its version in ``$schema``; it is validated against that version's schema (JSON
Schema 2020-12), and versions the folder does not have are refused."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

ENV = "HUB_FITCONNECT_SCHEMA_DIR"
VERSION = re.compile(
    r"^https://schema\.fitko\.de/fit-connect/metadata/(\d+\.\d+\.\d+)/metadata\.schema\.json$"
)
CURRENT = "2.1.0"


def default_dir() -> Path:
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    if os.environ.get("HUB_SHARED_DIR"):  # the one setting the tests document for shared data
        return Path(os.environ["HUB_SHARED_DIR"]) / "fitconnect"
    return Path(__file__).resolve().parents[3].parent / "shared" / "fitconnect"


def schema_uri(version: str = CURRENT) -> str:
    return f"https://schema.fitko.de/fit-connect/metadata/{version}/metadata.schema.json"


@cache
def _validator(directory: Path, version: str) -> Draft202012Validator | None:
    path = directory / f"metadata.schema.v{version}.json"
    if not path.is_file():
        return None
    return validator(json.loads(path.read_text(encoding="utf-8")))


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A 2020-12 validator that also checks ``format`` (uuid, date, email, …)."""
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def describe(error: ValidationError) -> str:
    """Where and which rule, never the value: reasons travel in unencrypted events and logs.

    ``jsonschema``'s own messages quote the offending value (``'deutsch' does not match …``)."""
    where = "/".join(map(str, error.absolute_path)) or "(root)"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        return f"{where}: required property {', '.join(map(str, missing))} is missing"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return f"{where}: properties not allowed here"
    return f"{where}: violates {error.validator}"


def problems(metadata: Any, directory: Path | None = None) -> list[str]:
    """What is wrong with a metadata document (empty when it is valid)."""
    if not isinstance(metadata, dict):
        return ["the metadata is not a JSON object"]
    found = VERSION.match(str(metadata.get("$schema", "")))
    if not found:
        return ["$schema: not a FIT-Connect metadata schema URI"]
    checker = _validator((directory or default_dir()).resolve(), found.group(1))
    if checker is None:
        return [f"$schema: metadata version {found.group(1)} is not supported here"]
    errors = sorted(checker.iter_errors(metadata), key=lambda e: list(map(str, e.absolute_path)))
    return [describe(e) for e in errors][:10]


__all__ = ["CURRENT", "ENV", "default_dir", "describe", "problems", "schema_uri", "validator"]
