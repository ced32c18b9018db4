"""Payload schemas are checked by a compiled validator on the intake path and walked by
``jsonschema`` only for a refused payload: both must agree on what is valid, and the problems
reported are ``jsonschema``'s (field, keyword, message)."""

from __future__ import annotations

import pytest

from hub.core.errors import ConfigurationError
from hub.core.registry import PayloadSchemas

SCHEMA = {
    "type": "object",
    "required": ["moving_in_date", "people"],
    "properties": {
        "moving_in_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "people": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 20}},
                "required": ["name"],
            },
        },
        "note": {"$ref": "#/$defs/short"},
    },
    "$defs": {"short": {"type": "string", "maxLength": 5}},
    "allOf": [{"properties": {"flat": {"type": "integer", "minimum": 1}}}],
    "unevaluatedProperties": False,
}
GOOD = [
    {"moving_in_date": "2026-11-01", "people": [{"name": "Erika"}]},
    {"moving_in_date": "2026-11-01", "people": [{"name": "Erika"}], "flat": 3, "note": "EG"},
]
BAD = [
    ({"people": [{"name": "Erika"}]}, "payload", "schema:required"),
    ({"moving_in_date": "1.11.2026", "people": [{"name": "E"}]}, "payload.moving_in_date",
     "schema:pattern"),
    ({"moving_in_date": "2026-11-01", "people": []}, "payload.people", "schema:minItems"),
    ({"moving_in_date": "2026-11-01", "people": [{"name": "E" * 21}]}, "payload.people.0.name",
     "schema:maxLength"),
    ({"moving_in_date": "2026-11-01", "people": [{"name": "E"}], "note": "too long"},
     "payload.note", "schema:maxLength"),
    ({"moving_in_date": "2026-11-01", "people": [{"name": "E"}], "flat": 0}, "payload.flat",
     "schema:minimum"),
    ({"moving_in_date": "2026-11-01", "people": [{"name": "E"}], "pets": 2}, "payload",
     "schema:unevaluatedProperties"),
]  # fmt: skip


@pytest.fixture
def schemas() -> PayloadSchemas:
    found = PayloadSchemas()
    found.register("99115005*", SCHEMA, "test")
    return found


@pytest.mark.parametrize("payload", GOOD)
def test_valid_payloads_pass(schemas, payload) -> None:
    assert schemas.problems("99115005104000", payload) == []


@pytest.mark.parametrize(("payload", "field", "rule"), BAD)
def test_refused_payloads_name_field_and_rule(schemas, payload, field, rule) -> None:
    found = schemas.problems("99115005104000", payload)
    assert (field, rule) in {(p.field, p.rule) for p in found}, found


def test_the_compiled_and_the_walking_validator_agree(schemas) -> None:
    compiled, walking = schemas.validators("99115005104000")
    assert compiled is not None  # the fast path is there for such a schema
    for payload in [*GOOD, *(b[0] for b in BAD)]:
        assert compiled.is_valid(payload) == walking.is_valid(payload), payload


def test_a_bad_schema_refuses_the_start() -> None:
    with pytest.raises(ConfigurationError, match="is invalid"):
        PayloadSchemas().register("99115005*", {"type": "no-such-type"}, "test")
