"""Validation of ids and query parameters; a bad one is a 400 naming it."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from tracegraph.domain import normalize_span_id, normalize_trace_id
from tracegraph.web.errors import ApiError

__all__ = ["choice_param", "int_param", "span_id_param", "trace_id_param"]


def trace_id_param(value: str, *, name: str = "trace_id") -> str:
    trace_id = normalize_trace_id(value) if len(value) in (16, 32) else None
    if trace_id is None:
        raise ApiError(400, f"{name} {value[:64]!r} is not a trace id (16 or 32 hex digits)")
    return trace_id


def span_id_param(value: str, *, name: str = "span_id") -> str:
    span_id = normalize_span_id(value) if len(value) == 16 else None
    if span_id is None:
        raise ApiError(400, f"{name} {value[:64]!r} is not a span id (16 hex digits)")
    return span_id


def int_param(query: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"parameter {name}={raw[:32]!r} is not an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"parameter {name}={value} is out of range {low}..{high}")
    return value


def choice_param(
    query: Mapping[str, str], name: str, *, choices: Collection[str], default: str
) -> str:
    raw = query.get(name) or default
    if raw not in choices:
        raise ApiError(
            400, f"parameter {name}={raw[:32]!r} must be one of {', '.join(sorted(choices))}"
        )
    return raw
