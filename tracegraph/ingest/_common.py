"""Helpers shared by the parsers: enum names, id fallbacks, links, dedup.

Kept tiny and allocation-free on the hot path: every parser calls these once
per span or per link.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from tracegraph.domain.ids import (
    normalize_span_id,
    normalize_trace_id,
    span_id_from_bytes,
    trace_id_from_bytes,
)
from tracegraph.domain.records import (
    Attributes,
    LinkRecord,
    ParseResult,
    SpanRecord,
    infer_link_type,
)

ZERO_TRACE_ID = "0" * 32
ZERO_SPAN_ID = "0" * 16

#: OTLP/JSON may spell enums by name (Tempo's gogo-jsonpb does); short names
#: ("SERVER") are accepted too because Jaeger and Zipkin use them.
KIND_BY_NAME: dict[str, int] = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
    "UNSPECIFIED": 0,
    "INTERNAL": 1,
    "SERVER": 2,
    "CLIENT": 3,
    "PRODUCER": 4,
    "CONSUMER": 5,
}
STATUS_BY_NAME: dict[str, int] = {
    "STATUS_CODE_UNSET": 0,
    "STATUS_CODE_OK": 1,
    "STATUS_CODE_ERROR": 2,
    "UNSET": 0,
    "OK": 1,
    "ERROR": 2,
}


def enum_value(value: Any, names: dict[str, int]) -> int:
    """An OTLP enum given as int, numeric string or name; unknown names are 0.

    >>> enum_value("SPAN_KIND_SERVER", KIND_BY_NAME), enum_value("3", KIND_BY_NAME)
    (2, 3)
    >>> enum_value(None, STATUS_BY_NAME), enum_value("status_code_error", STATUS_BY_NAME)
    (0, 2)
    """
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    return names.get(text.upper(), 0)


def _from_base64(value: str, size: int, convert: Callable[[bytes], str | None]) -> str | None:
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return convert(raw) if len(raw) == size else None


_ZERO_16 = bytes(16)
_ZERO_8 = bytes(8)


def text_trace_id(value: Any) -> str | None:
    """Trace id from hex (any case, 64-bit left-padded) or, failing that, base64.

    Tempo's older API writes ids as base64 of the 16 bytes; valid hex of the
    right length always wins, base64 is only the fallback.

    >>> text_trace_id("5B8EFFF798038103D269B633813FC60C")
    '5b8efff798038103d269b633813fc60c'
    >>> text_trace_id("W47/95gDgQPSabYzgT/GDA==")
    '5b8efff798038103d269b633813fc60c'
    >>> text_trace_id("AAAAAAAAAAAAAAAAAAAAAA==") is None  # all zero
    True
    """
    if value.__class__ is str and len(value) == 32:
        # Fast path for the usual 32 hex digits: fromhex validates (and
        # .hex() lower-cases) in C.
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) == 16:
            return raw.hex() if raw != _ZERO_16 else None
    if not value or not isinstance(value, str):
        return None
    trace_id = normalize_trace_id(value)
    if trace_id is None:
        trace_id = _from_base64(value.strip(), 16, trace_id_from_bytes)
    return trace_id


def text_span_id(value: Any) -> str | None:
    """Span id from hex (any case) or base64 of the 8 bytes.

    >>> text_span_id("7uGbfsPBsXQ=")
    'eee19b7ec3c1b174'
    """
    if value.__class__ is str and len(value) == 16:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) == 8:
            return raw.hex() if raw != _ZERO_8 else None
    if not value or not isinstance(value, str):
        return None
    span_id = normalize_span_id(value)
    if span_id is None:
        span_id = _from_base64(value.strip(), 8, span_id_from_bytes)
    return span_id


def make_link(
    trace_id: str,
    span_id: str,
    index: int,
    linked_trace_id: str | None,
    linked_span_id: str | None,
    attributes: Attributes,
    holder_kind: int,
    trace_state: str = "",
    flags: int = 0,
    dropped_attributes_count: int = 0,
) -> LinkRecord | None:
    """The link record, or ``None`` for a bad target without attributes.

    A link to an all-zero or malformed span context is kept only when it
    carries attributes (the OTel spec asks SDKs to send those links for their
    attributes); it is flagged ``invalid`` and never drawn as an edge.
    """
    if linked_trace_id is None or linked_span_id is None:
        if not attributes:
            return None
        target_trace, target_span, invalid = ZERO_TRACE_ID, ZERO_SPAN_ID, True
    else:
        target_trace, target_span, invalid = linked_trace_id, linked_span_id, False
    return LinkRecord(
        trace_id=trace_id,
        span_id=span_id,
        index=index,
        linked_trace_id=target_trace,
        linked_span_id=target_span,
        link_type=infer_link_type(attributes, holder_kind=holder_kind),
        attributes=attributes,
        trace_state=trace_state,
        flags=flags,
        dropped_attributes_count=dropped_attributes_count,
        invalid=invalid,
    )


def keep_first(
    span: SpanRecord, number: int, seen: set[tuple[str, str]], result: ParseResult
) -> None:
    """Append ``span`` unless its ``(trace_id, span_id)`` came earlier in the body.

    Duplicate span ids happen (Zipkin shared spans, Jaeger's own fixtures,
    buggy SDKs). We keep the first one so a batch upsert never touches the
    same row twice, and count the rest so the user sees them.
    """
    key = (span.trace_id, span.span_id)
    if key in seen:
        result.reject(
            f"span {number} ({span.name!r}): duplicate span id {span.span_id} "
            f"in trace {span.trace_id}, kept the first"
        )
        return
    seen.add(key)
    result.spans.append(span)
