"""RFC 9457 problem+json responses. Every rejection names the field and the rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from hub.core.errors import FieldProblem, IntakeRejected

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEM_BASE = "urn:hub:problem:"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    kind: str = "error",
    errors: Iterable[FieldProblem] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": _PROBLEM_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    errs = [e.as_dict() for e in errors]
    if errs:
        body["errors"] = errs
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def field_problems(
    errors: Iterable[ErrorDetails | dict[str, Any]], *, skip: int = 0
) -> list[FieldProblem]:
    """pydantic errors → field problems; ``skip`` drops leading location parts ("body")."""
    found = []
    for err in errors:
        loc = [str(p) for p in err["loc"][skip:]]
        found.append(FieldProblem(".".join(loc) or "(body)", err["type"], err["msg"]))
    return found


def from_validation_error(exc: ValidationError) -> IntakeRejected:
    problems = field_problems(exc.errors(include_url=False))
    # Unparseable JSON is a malformed request (400); well-formed but wrong content is 422.
    status = 400 if any(p.rule == "json_invalid" for p in problems) else 422
    return IntakeRejected(problems, status_code=status)


def from_rejection(exc: IntakeRejected) -> JSONResponse:
    kind = {409: "conflict", 403: "forbidden", 400: "bad-request"}.get(
        exc.status_code, "validation"
    )
    return problem(
        exc.status_code,
        exc.title,
        str(exc) if len(exc.problems) == 1 else None,
        kind=kind,
        errors=exc.problems,
    )
