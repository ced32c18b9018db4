"""Published contracts: the JSON Schemas in schemas/ and the hook documentation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from hub.core import hookspecs
from hub.core.schemas import all_schemas, render
from hub.testing import sample_submission

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_schema_files_match_the_models(name: str) -> None:
    on_disk = (ROOT / "schemas" / name).read_text(encoding="utf-8")
    assert on_disk == render(all_schemas()[name]), (
        f"schemas/{name} is out of date: run `make schemas`"
    )


def test_submission_schema_accepts_the_sample_and_rejects_a_short_key() -> None:
    schema = json.loads((ROOT / "schemas" / "submission.schema.json").read_text())
    jsonschema.validate(sample_submission(), schema)
    bad = sample_submission(service={"leika_key": "9911500510400"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_every_hook_is_documented_with_a_section_and_an_example() -> None:
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (\w+)\n(.*?)(?=^### |^## |\Z)", doc, re.S | re.M))
    names = hookspecs.all_hook_names()
    assert len(names) == 11
    for name in names:
        assert name in sections, f"docs/plugins.md has no section for hook {name}"
        assert "```python" in sections[name], f"docs/plugins.md: {name} has no example"
        assert getattr(hookspecs, name).__doc__.strip(), f"hook {name} has no docstring"
