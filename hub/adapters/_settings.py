"""Shared helper: validate an adapter's settings table with pydantic, errors as config errors."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hub.core.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


def parse_settings(model: type[M], settings: dict[str, Any]) -> M:
    data = {k: v for k, v in settings.items() if k != "type"}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(problems) from None
