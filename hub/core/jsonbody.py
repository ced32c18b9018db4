"""JSON from outside, as RFC 8259 has it: no ``NaN``/``Infinity``, no numbers beyond a double.

Python's ``json`` and pydantic both accept ``NaN``, ``Infinity`` and ``1e400`` (as inf) by
default, and the store would keep them as ``null``: a silent change of what a client sent.
Every body is therefore parsed or checked here, and refused with the field and the rule.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hub.core.errors import FieldProblem, IntakeRejected

NOT_FINITE = "json_finite_number"


def _refuse_constant(name: str) -> float:
    raise _NotFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


class _NotFinite(ValueError):
    pass


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or :class:`IntakeRejected` (400) naming the rule."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotFinite as exc:
        raise IntakeRejected.one(
            "(body)", NOT_FINITE, f"{exc} is not a finite JSON number", status_code=400
        ) from None
    except RecursionError:
        raise IntakeRejected.one(
            "(body)", "json_too_deep", "the JSON is nested too deeply", status_code=400
        ) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise IntakeRejected.one(
            "(body)", "json_invalid", f"not JSON: {type(exc).__name__}", status_code=400
        ) from None
    if not isinstance(data, dict):
        raise IntakeRejected.one(
            "(body)", "type", "the body must be a JSON object", status_code=400
        )
    return data


def non_finite(value: Any, path: str) -> FieldProblem | None:
    """The first float in ``value`` (dicts and lists, walked) that is NaN or infinite."""
    try:  # the common case, at C speed: nothing to find
        json.dumps(value, allow_nan=False, default=str)
        return None
    except ValueError:
        pass  # walk to name the field
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return FieldProblem(where, NOT_FINITE, "NaN and Infinity are not JSON numbers")
        elif isinstance(item, dict):
            stack.extend((v, f"{where}.{k}") for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
    return None


__all__ = ["NOT_FINITE", "non_finite", "parse_json_object"]
