"""Jaeger query JSON (``GET /api/traces/<id>``, the UI's JSON) -> span records.

Jaeger's model is OpenTracing's, so a few things are translated the way
Jaeger's own OTLP translator does it:

- times are microseconds (-> ns), 64-bit trace ids are left-padded to 32 hex;
- ``processes[processID]`` gives the service (``serviceName``) and the
  resource attributes (its tags);
- the tags ``span.kind``, ``otel.status_code``, ``otel.status_description``,
  ``error`` and ``otel.scope.*``/``otel.library.*`` become fields, not attributes;
- ``logs`` become events, named by their ``event`` field;
- ``references``: the first ``CHILD_OF`` within the same trace is the
  parent; every other reference (``FOLLOWS_FROM``, a ``CHILD_OF`` to another
  trace, a second ``CHILD_OF``) becomes a link with the attribute
  ``opentracing.ref_type`` = ``follows_from`` / ``child_of``.

>>> trace = {"traceID": "1", "processes": {"p1": {"serviceName": "api"}}, "spans": [
...     {"traceID": "1", "spanID": "2", "operationName": "GET", "startTime": 5,
...      "duration": 2, "processID": "p1",
...      "tags": [{"key": "span.kind", "type": "string", "value": "server"}]}]}
>>> span = parse_jaeger_json(trace).spans[0]
>>> span.trace_id, span.span_id, span.start, span.end, span.kind, span.service
('00000000000000000000000000000001', '0000000000000002', 5000, 7000, 2, 'api')
"""

from __future__ import annotations

from typing import Any

from tracegraph.domain.gc import gc_paused
from tracegraph.domain.ids import normalize_span_id, normalize_trace_id
from tracegraph.domain.records import (
    Attributes,
    EventRecord,
    LinkRecord,
    ParseResult,
    SpanRecord,
)
from tracegraph.ingest._common import KIND_BY_NAME, keep_first, make_link
from tracegraph.ingest.errors import ParseError
from tracegraph.ingest.registry import register_format

__all__ = ["looks_like_jaeger_json", "parse_jaeger_json"]

_STATUS_BY_TAG = {"ERROR": 2, "OK": 1, "UNSET": 0}


def _tag_value(tag: dict[str, Any]) -> Any:
    value = tag.get("value")
    kind = (tag.get("type") or "string").lower()
    if kind == "int64" and value is not None:
        return int(value)  # may arrive as a string: JSON numbers lose 64-bit precision
    if kind == "float64" and value is not None:
        return float(value)
    if kind == "bool" and isinstance(value, str):
        return value.lower() == "true"
    return value  # string, and binary as its base64 text


def _tags(tags: Any) -> Attributes:
    return {tag["key"]: _tag_value(tag) for tag in tags} if tags else {}


def _is_trace(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("spans"), list)


def looks_like_jaeger_json(data: Any) -> bool:
    """``{"data": [trace, ...]}``, a trace with ``traceID`` and ``spans``, or a list of traces."""
    if isinstance(data, dict):
        if isinstance(data.get("data"), list):
            return all(_is_trace(trace) for trace in data["data"][:1])
        return "traceID" in data and _is_trace(data)
    return isinstance(data, list) and bool(data) and _is_trace(data[0]) and "traceID" in data[0]


def _traces(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        traces: list[Any] = data["data"]
        return traces
    if _is_trace(data):
        return [data]
    if isinstance(data, list) and all(_is_trace(trace) for trace in data):
        return data
    raise ParseError("not Jaeger JSON: expected {'data': [trace, ...]} or a trace object")


def _process(span: dict[str, Any], processes: dict[str, Any]) -> tuple[str, Attributes]:
    process = processes.get(span.get("processID") or "") or span.get("process") or {}
    service = process.get("serviceName") or ""
    resource = _tags(process.get("tags"))
    if service:
        resource["service.name"] = service
    return service, resource


def _parse_span(
    span: dict[str, Any],
    number: int,
    processes: dict[str, Any],
    resources: dict[str, tuple[str, Attributes]],
    result: ParseResult,
) -> SpanRecord | None:
    name = span.get("operationName") or ""
    trace_id = normalize_trace_id(span.get("traceID"))
    span_id = normalize_span_id(span.get("spanID"))
    if trace_id is None or span_id is None:
        bad = "traceID" if trace_id is None else "spanID"
        raw = span.get(bad)
        result.reject(f"span {number} ({name!r}): invalid {bad} {raw!r}")
        return None

    process_id = span.get("processID") or ""
    if process_id not in resources or not process_id:
        resources[process_id] = _process(span, processes)
    service, resource_attributes = resources[process_id]

    attributes = _tags(span.get("tags"))
    kind = KIND_BY_NAME.get(str(attributes.pop("span.kind", "")).upper(), 0)
    status_code = 0
    error = attributes.pop("error", None)
    if error is True or (isinstance(error, str) and error.lower() == "true"):
        status_code = 2
    otel_status = attributes.pop("otel.status_code", None)
    if otel_status is not None:
        status_code = _STATUS_BY_TAG.get(str(otel_status).upper(), status_code)
    status_message = str(attributes.pop("otel.status_description", "") or "")
    scope_name = attributes.pop("otel.scope.name", None) or attributes.pop("otel.library.name", "")
    scope_version = attributes.pop("otel.scope.version", None) or attributes.pop(
        "otel.library.version", ""
    )
    attributes.pop("otel.library.name", None)
    attributes.pop("otel.library.version", None)
    trace_state = attributes.pop("w3c.tracestate", "")

    parent = ""
    links: list[LinkRecord] = []
    for ref in span.get("references") or ():
        ref_trace = normalize_trace_id(ref.get("traceID"))
        ref_span = normalize_span_id(ref.get("spanID"))
        ref_type = str(ref.get("refType") or "CHILD_OF").upper()
        if ref_type == "CHILD_OF" and not parent and ref_trace == trace_id and ref_span:
            parent = ref_span
            continue
        link_attributes: Attributes = {
            "opentracing.ref_type": "follows_from" if ref_type == "FOLLOWS_FROM" else "child_of"
        }
        record = make_link(
            trace_id, span_id, len(links), ref_trace, ref_span, link_attributes, kind
        )
        if record is not None:
            links.append(record)
    if not parent:
        # Old Jaeger JSON carried the parent as a field, not a reference.
        parent = normalize_span_id(span.get("parentSpanID")) or ""

    events = []
    for log in span.get("logs") or ():
        fields = _tags(log.get("fields"))
        event_name = fields.pop("event", "")
        events.append(EventRecord(str(event_name), int(log.get("timestamp") or 0) * 1000, fields))

    start = int(span.get("startTime") or 0) * 1000
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        name=name,
        start=start,
        end=start + int(span.get("duration") or 0) * 1000,
        parent_span_id=parent,
        kind=kind,
        service=service,
        status_code=status_code,
        status_message=status_message,
        attributes=attributes,
        resource_attributes=resource_attributes,
        events=tuple(events),
        links=tuple(links),
        scope_name=str(scope_name),
        scope_version=str(scope_version),
        trace_state=str(trace_state),
        flags=int(span.get("flags") or 0) & 0xFF,
    )


@register_format("jaeger-json", matches=looks_like_jaeger_json)
@gc_paused()
def parse_jaeger_json(data: Any) -> ParseResult:
    """Parse Jaeger query JSON: ``{"data": [trace, ...]}``, one trace, or a list of traces.

    Spans with invalid ids are rejected; a span id seen earlier in the same
    trace is rejected as a duplicate (the first one is kept).
    """
    result = ParseResult()
    seen: set[tuple[str, str]] = set()
    number = -1
    for trace in _traces(data):
        processes = trace.get("processes") or {}
        resources: dict[str, tuple[str, Attributes]] = {}
        for span in trace.get("spans") or ():
            number += 1
            try:
                record = _parse_span(span, number, processes, resources, result)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                result.reject(f"span {number}: malformed ({type(exc).__name__}: {exc})")
                continue
            if record is not None:
                keep_first(record, number, seen, result)
    return result
