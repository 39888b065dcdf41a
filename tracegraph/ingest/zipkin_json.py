"""Zipkin v2 JSON (``POST /api/v2/spans``, ``GET /api/v2/trace/<id>``) -> span records.

Times are microseconds (-> ns); 64-bit trace ids are left-padded. The
``error`` tag means the span failed (its value, often empty, is the status
message), as Zipkin's UI reads it. Spans without ``kind`` are local spans
and become INTERNAL. ``remoteEndpoint.serviceName`` becomes the
``peer.service`` attribute. A span shared by client and server (``shared:
true``, same id) is a duplicate here: the first one is kept.

>>> span = parse_zipkin_v2([{"traceId": "0562809467078eab", "id": "1", "name": "send",
...     "kind": "PRODUCER", "timestamp": 10, "duration": 5,
...     "localEndpoint": {"serviceName": "a"}}]).spans[0]
>>> span.trace_id, span.kind, span.start, span.end, span.service
('00000000000000000562809467078eab', 4, 10000, 15000, 'a')
"""

from __future__ import annotations

from typing import Any

from tracegraph.domain.gc import gc_paused
from tracegraph.domain.ids import normalize_span_id, normalize_trace_id
from tracegraph.domain.records import EventRecord, ParseResult, SpanRecord
from tracegraph.ingest._common import KIND_BY_NAME, keep_first
from tracegraph.ingest.errors import ParseError
from tracegraph.ingest.registry import register_format

__all__ = ["looks_like_zipkin_v2", "parse_zipkin_v2"]


def looks_like_zipkin_v2(data: Any) -> bool:
    """A JSON list of span objects with ``traceId`` (or a list of such lists)."""
    if not isinstance(data, list) or not data:
        return False
    first = data[0]
    if isinstance(first, list) and first:
        first = first[0]
    return isinstance(first, dict) and "traceId" in first and "resourceSpans" not in first


def _parse_span(span: dict[str, Any], number: int, result: ParseResult) -> SpanRecord | None:
    name = span.get("name") or ""
    trace_id = normalize_trace_id(span.get("traceId"))
    span_id = normalize_span_id(span.get("id"))
    if trace_id is None or span_id is None:
        bad, raw = ("traceId", span.get("traceId")) if trace_id is None else ("id", span.get("id"))
        result.reject(f"span {number} ({name!r}): invalid {bad} {raw!r}")
        return None
    local = span.get("localEndpoint") or {}
    service = local.get("serviceName") or ""
    attributes = dict(span.get("tags") or {})
    status_code, status_message = 0, ""
    if "error" in attributes:
        status_code, status_message = 2, str(attributes.pop("error") or "")
    remote_service = (span.get("remoteEndpoint") or {}).get("serviceName")
    if remote_service:
        attributes.setdefault("peer.service", remote_service)
    kind = span.get("kind")
    start = int(span.get("timestamp") or 0) * 1000
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        name=name,
        start=start,
        end=start + int(span.get("duration") or 0) * 1000,
        parent_span_id=normalize_span_id(span.get("parentId")) or "",
        kind=KIND_BY_NAME.get(str(kind).upper(), 0) if kind else 1,
        service=service,
        status_code=status_code,
        status_message=status_message,
        attributes=attributes,
        resource_attributes={"service.name": service} if service else {},
        events=tuple(
            EventRecord(str(note.get("value") or ""), int(note.get("timestamp") or 0) * 1000)
            for note in span.get("annotations") or ()
        ),
    )


@register_format("zipkin-v2", matches=looks_like_zipkin_v2)
@gc_paused()
def parse_zipkin_v2(data: Any) -> ParseResult:
    """Parse a Zipkin v2 span list (or a list of traces, each a span list).

    Spans with invalid ids are rejected; a repeated ``(traceId, id)``, such as
    the server half of a shared span, is rejected as a duplicate.
    """
    if not isinstance(data, list):
        raise ParseError(f"Zipkin v2 JSON must be a list of spans, not {type(data).__name__}")
    if data and isinstance(data[0], list):
        data = [span for trace in data for span in trace]
    result = ParseResult()
    seen: set[tuple[str, str]] = set()
    for number, span in enumerate(data):
        try:
            record = _parse_span(span, number, result)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            result.reject(f"span {number}: malformed ({type(exc).__name__}: {exc})")
            continue
        if record is not None:
            keep_first(record, number, seen, result)
    return result
