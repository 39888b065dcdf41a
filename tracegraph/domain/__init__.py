"""Plain records that cross every boundary of tracegraph (no Django here)."""

from tracegraph.domain.ids import (
    normalize_span_id,
    normalize_trace_id,
    span_id_from_bytes,
    trace_id_from_bytes,
)
from tracegraph.domain.records import (
    LINK_TYPES,
    EventRecord,
    LinkRecord,
    Nanos,
    ParseResult,
    SpanKind,
    SpanRecord,
    StatusCode,
    TraceRecord,
    infer_link_type,
)

__all__ = [
    "LINK_TYPES",
    "EventRecord",
    "LinkRecord",
    "Nanos",
    "ParseResult",
    "SpanKind",
    "SpanRecord",
    "StatusCode",
    "TraceRecord",
    "infer_link_type",
    "normalize_span_id",
    "normalize_trace_id",
    "span_id_from_bytes",
    "trace_id_from_bytes",
]
