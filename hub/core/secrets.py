"""Secrets in settings models: a field typed :class:`Secret` holds a *reference* (``env:NAME``,
``file:PATH`` or ``{env = "NAME"}``), never the secret itself.

Validation checks the reference's form, so a literal password in ``hub.toml`` refuses the start
naming the field; the core reads the value when asked (:meth:`Secret.reveal`) and ``hub doctor``
reveals every registered secret once to say which ones are missing. The model, its ``repr`` and
``hub config show`` only ever carry the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

KINDS = ("env", "file")
REFERENCE_PATTERN = r"^(env|file):.+$"


class Secret:
    """A secret given by reference; :meth:`reveal` returns its value."""

    __slots__ = ("field", "reference")

    def __init__(self, reference: str, field: str = "secret"):
        self.reference = reference
        self.field = field

    def reveal(self, where: str | None = None) -> str:
        """The secret's value, read now (a rotated file is picked up on the next call).

        Raises :class:`hub.ConfigurationError` naming ``where`` (default: the field) when the
        variable is unset or the file unreadable."""
        from hub.core.config import resolve_secret  # config imports this module

        return resolve_secret(self.reference, where or self.field)

    def __repr__(self) -> str:
        return f"Secret({self.reference!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.reference == self.reference

    def __hash__(self) -> int:
        return hash(self.reference)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda s: s.reference),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": REFERENCE_PATTERN,
            "description": "A secret by reference: env:NAME or file:PATH",
        }

    @classmethod
    def _validate(cls, value: Any, info: core_schema.ValidationInfo) -> Secret:
        field = info.field_name or "secret"
        if isinstance(value, Secret):
            return value
        if isinstance(value, dict) and len(value) == 1:
            ((kind, ref),) = value.items()
            value = f"{kind}:{ref}"
        if isinstance(value, str):
            kind, sep, ref = value.partition(":")
            if sep and kind in KINDS and ref:
                return cls(value, field)
        raise PydanticCustomError(
            "secret_reference",
            "secrets are given by reference, as 'env:NAME' or 'file:PATH', never inline",
        )


def secrets_in(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Secret]]:
    """Every :class:`Secret` in a validated settings model, with its dotted path."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        yield from _walk(value, f"{prefix}{name}")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Secret]]:
    if isinstance(value, Secret):
        yield path, value
    elif isinstance(value, BaseModel):
        yield from secrets_in(value, f"{path}.")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")


__all__ = ["Secret", "secrets_in"]
