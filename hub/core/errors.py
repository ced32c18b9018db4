"""The hub's exception tree, documented in one place.

::

    HubError
    ├── ConfigurationError        refuse to start; `hub doctor` reports it
    ├── IntakeRejected            bad input: 4xx with the field and the rule, nothing stored
    │   └── Conflict              409, e.g. Idempotency-Key reused with another body
    └── AdapterError              raised by adapters from ``deliver``
        ├── TransientError        try again later (backoff with jitter)
        └── PermanentError        retrying cannot help: dead letter at once

Any other exception escaping ``deliver`` counts as transient: a bug in an adapter must not lose
records, and the attempt limit still ends the retries.
"""

from __future__ import annotations

from dataclasses import dataclass


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigurationError(HubError):
    """The configuration cannot work; the hub refuses to start."""


@dataclass(frozen=True)
class FieldProblem:
    """One violated rule: ``field`` is a dotted path into the submission (``service.leika_key``)."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class IntakeRejected(HubError):
    """A submission was refused. Carries every problem found, each naming field and rule."""

    status_code = 422
    title = "The submission was rejected"

    def __init__(
        self, problems: list[FieldProblem] | FieldProblem, *, status_code: int | None = None
    ):
        self.problems = [problems] if isinstance(problems, FieldProblem) else list(problems)
        if status_code is not None:
            self.status_code = status_code
        super().__init__("; ".join(f"{p.field}: {p.message} ({p.rule})" for p in self.problems))

    @classmethod
    def one(cls, field: str, rule: str, message: str, **kw: int) -> IntakeRejected:
        return cls(FieldProblem(field, rule, message), **kw)


class Conflict(IntakeRejected):
    status_code = 409
    title = "Conflict"


class AdapterError(HubError):
    """Raised by an adapter's ``deliver``; the subclass decides retry or dead letter."""


class TransientError(AdapterError):
    """The backend may accept this later (timeout, 5xx, 429, connection refused)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(AdapterError):
    """The backend refused this record for good (4xx on validation, unknown recipient)."""
