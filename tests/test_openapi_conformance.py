"""The OpenAPI description is what the API does: schemathesis generates requests from
``/openapi.json`` of a real ``hub serve`` with every bundled plugin (``make run``'s config) and
checks every answer — no 5xx, status codes, content types and bodies as documented.

Examples are bounded (``HUB_SCHEMATHESIS_EXAMPLES``, default 15 per operation) so the run
stays within a few minutes; raise it for a deeper search."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

BASE = "http://127.0.0.1:8080"
TOKEN = "dev-token-not-for-production"
EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, dev_hub) -> Iterator[None]:
    with dev_hub(tmp_path_factory.mktemp("openapi")):
        yield


@pytest.fixture(scope="module")
def api_schema(served: None):
    return schemathesis.openapi.from_url(f"{BASE}/openapi.json")


def test_the_description_names_auth_bodies_and_error_codes(api_schema) -> None:
    spec = api_schema.raw_schema
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = spec["paths"]
    records = paths["/v1/records/{record_id}"]["get"]
    assert records["security"] == [{"bearer": []}]
    assert {"400", "401", "403", "404"} <= set(records["responses"])
    assert "422" not in records["responses"]  # parameter errors are 400 here
    problem = records["responses"]["400"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    koffer = paths["/v1/koffer/applications"]["post"]
    assert koffer["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/Submission"
    )
    patch = paths["/v1/koffer/uploads/{upload_id}"]["patch"]
    assert [p["name"] for p in patch["parameters"] if p["in"] == "path"] == ["upload_id"]
    assert {"204", "409", "460"} <= set(patch["responses"])
    assert "HTTPValidationError" not in str(spec)


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_every_answer_is_as_documented(api_schema) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20  # core and every bundled plugin's routes are described

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case) -> None:
            case.call_and_validate(
                base_url=BASE,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
                checks=CHECKS,
                excluded_checks=[c for c in checks.CHECKS.get_all() if c not in CHECKS],
            )

        try:
            call()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # collect every operation's first failure, then report
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
