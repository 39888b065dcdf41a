"""OTLP/JSON and OTLP/JSON Lines -> :class:`SpanRecord` list.

OTLP/JSON is *not* the protobuf JSON mapping for ids: ``traceId`` and
``spanId`` are hex (any case), so ``json_format`` cannot be used (it reads
them as base64). We walk the decoded document by hand, which is also what
keeps this path fast. Tolerated variants, each seen in the wild:

- envelopes: ``{"resourceSpans": ...}``, Tempo v1's legacy ``{"batches": ...}``,
  Jaeger api_v3's ``{"result": {...}}`` and Tempo v2's ``{"trace": {...}}``;
- base64 ids (Tempo's older API), enum names (``"SPAN_KIND_SERVER"``),
  ``intValue`` and nanosecond times as strings or numbers;
- snake_case keys (``resource_spans``, ``trace_id``) and the pre-1.0
  ``instrumentationLibrarySpans``.

>>> doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{
...     "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
...     "name": "GET /", "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": "1000"}]}]}]}
>>> span = parse_otlp_json(doc).spans[0]
>>> span.trace_id, span.kind, span.start
('5b8efff798038103d269b633813fc60c', 2, 1000)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from tracegraph.domain.gc import gc_paused
from tracegraph.domain.records import (
    Attributes,
    EventRecord,
    LinkRecord,
    ParseResult,
    SpanRecord,
)
from tracegraph.ingest._common import (
    KIND_BY_NAME,
    STATUS_BY_NAME,
    enum_value,
    keep_first,
    make_link,
    text_span_id,
    text_trace_id,
)
from tracegraph.ingest.errors import ParseError
from tracegraph.ingest.registry import register_format

__all__ = ["looks_like_otlp_json", "parse_otlp_json", "parse_otlp_json_lines"]

_ENVELOPE_KEYS = ("resourceSpans", "resource_spans", "batches")


def _array(raw: Any) -> list[Any]:
    return [_value(item) for item in (raw or {}).get("values") or ()]


def _kvlist(raw: Any) -> Attributes:
    return _attributes((raw or {}).get("values"))


def _double(raw: Any) -> float:
    return float(raw)  # numbers, and the strings "NaN", "Infinity", "-Infinity"


def _identity(raw: Any) -> Any:
    return raw


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "stringValue": _identity,
    "intValue": int,
    "doubleValue": _double,
    "boolValue": bool,
    "bytesValue": _identity,  # base64 text, kept as sent
    "arrayValue": _array,
    "kvlistValue": _kvlist,
}


_converter = _CONVERTERS.get


def _value(value: Any) -> Any:
    """An ``AnyValue`` object as a plain Python value.

    >>> _value({"intValue": "123"}), _value({"arrayValue": {"values": [{"boolValue": True}]}})
    (123, [True])
    >>> _value({"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": "NaN"}}]}})
    {'k': nan}
    """
    if not value:
        return None
    text = value.get("stringValue")
    if text is not None:
        return text
    for key, raw in value.items():  # AnyValue is a oneof: one key
        convert = _converter(key)
        if convert is not None:
            return convert(raw)
    return None


def _attributes(key_values: Any) -> Attributes:
    attributes: Attributes = {}
    if not key_values:
        return attributes
    for kv in key_values:
        value = kv.get("value")
        if value:
            for key, raw in value.items():  # the oneof: one key
                if key == "stringValue":  # the common case, without a call
                    attributes[kv["key"]] = raw
                else:
                    convert = _converter(key)
                    attributes[kv["key"]] = convert(raw) if convert is not None else None
                break
        else:
            attributes[kv["key"]] = None
    return attributes


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camelize(node: Any) -> Any:
    """snake_case keys to OTLP's camelCase, recursively.

    Safe for OTLP documents: every object key is a schema field name;
    attribute names live in ``"key"`` values, which are left alone.

    >>> _camelize({"span_id": "ab", "attributes": [{"key": "a_b", "value": {"int_value": 1}}]})
    {'spanId': 'ab', 'attributes': [{'key': 'a_b', 'value': {'intValue': 1}}]}
    """
    if isinstance(node, dict):
        return {_camel(key): _camelize(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_camelize(item) for item in node]
    return node


def _unwrap(data: Any) -> Any:
    """The inner OTLP object from the Jaeger api_v3 / Tempo v2 envelopes."""
    if isinstance(data, dict):
        for key in ("result", "trace"):
            inner = data.get(key)
            if isinstance(inner, dict) and "resourceSpans" not in data:
                return inner
    return data


def looks_like_otlp_json(data: Any) -> bool:
    """Whether a decoded JSON document is an OTLP/JSON trace export."""
    data = _unwrap(data)
    return isinstance(data, dict) and any(key in data for key in _ENVELOPE_KEYS)


def _resource_spans(data: Any) -> list[Any]:
    data = _unwrap(data)
    if not isinstance(data, dict):
        raise ParseError(f"OTLP/JSON must be an object, not {type(data).__name__}")
    for key in _ENVELOPE_KEYS:
        if key in data:
            found = data[key] or []
            if not isinstance(found, list):
                raise ParseError(f"OTLP/JSON {key!r} must be a list")
            if key == "resource_spans":
                found = _camelize(found)
            return found
    raise ParseError(f"not OTLP/JSON: no resourceSpans in an object with keys {sorted(data)[:8]}")


def _time(value: Any) -> int:
    return int(value) if value else 0


def _parse_span(
    span: Any,
    number: int,
    service: str,
    resource_attributes: Attributes,
    scope_name: str,
    scope_version: str,
    result: ParseResult,
) -> SpanRecord | None:
    get = span.get
    start = get("startTimeUnixNano")
    end = get("endTimeUnixNano")
    trace_id = text_trace_id(get("traceId"))
    span_id = text_span_id(get("spanId"))
    name = get("name") or ""
    if trace_id is None or span_id is None:
        bad, raw = ("traceId", get("traceId")) if trace_id is None else ("spanId", get("spanId"))
        result.reject(f"span {number} ({name!r}): invalid {bad} {raw!r}")
        return None
    kind = get("kind")
    if kind.__class__ is not int:
        kind = enum_value(kind, KIND_BY_NAME)
    links: list[LinkRecord] = []
    for index, link in enumerate(get("links") or ()):
        record = make_link(
            trace_id,
            span_id,
            index,
            text_trace_id(link.get("traceId")),
            text_span_id(link.get("spanId")),
            _attributes(link.get("attributes")),
            kind,
            link.get("traceState") or "",
            link.get("flags") or 0,
            link.get("droppedAttributesCount") or 0,
        )
        if record is not None:
            links.append(record)
    events = get("events")
    if events:
        events = tuple(
            [
                EventRecord(
                    event.get("name") or "",
                    _time(event.get("timeUnixNano")),
                    _attributes(event.get("attributes")),
                    event.get("droppedAttributesCount") or 0,
                )
                for event in events
            ]
        )
    status = get("status")
    code, message = 0, ""
    if status:
        code = status.get("code")
        if code.__class__ is not int:
            code = enum_value(code, STATUS_BY_NAME)
        message = status.get("message") or ""
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        name=name,
        start=int(start) if start else 0,
        end=int(end) if end else 0,
        parent_span_id=text_span_id(get("parentSpanId")) or "",
        kind=kind,
        service=service,
        status_code=code,
        status_message=message,
        attributes=_attributes(get("attributes")),
        resource_attributes=resource_attributes,
        events=events or (),
        links=tuple(links),
        scope_name=scope_name,
        scope_version=scope_version,
        trace_state=get("traceState") or "",
        flags=get("flags") or 0,
        dropped_attributes_count=get("droppedAttributesCount") or 0,
        dropped_events_count=get("droppedEventsCount") or 0,
        dropped_links_count=get("droppedLinksCount") or 0,
    )


def _parse_into(
    resource_spans: Iterable[Any], result: ParseResult, seen: set[tuple[str, str]], number: int
) -> int:
    """Parse ``resourceSpans`` into ``result``; returns the next span number."""
    for resource_span in resource_spans:
        if "scopeSpans" not in resource_span and "scope_spans" in resource_span:
            resource_span = _camelize(resource_span)
        resource = resource_span.get("resource") or {}
        # One dict per resource, shared by its spans: treat it as read-only.
        resource_attributes = _attributes(resource.get("attributes"))
        service = resource_attributes.get("service.name") or ""
        if not isinstance(service, str):
            service = str(service)
        scope_spans = resource_span.get("scopeSpans")
        if scope_spans is None:
            scope_spans = resource_span.get("instrumentationLibrarySpans") or ()
        for scope_span in scope_spans:
            scope = scope_span.get("scope") or scope_span.get("instrumentationLibrary") or {}
            scope_name = scope.get("name") or ""
            scope_version = scope.get("version") or ""
            for span in scope_span.get("spans") or ():
                number += 1
                try:
                    record = _parse_span(
                        span,
                        number,
                        service,
                        resource_attributes,
                        scope_name,
                        scope_version,
                        result,
                    )
                except (TypeError, ValueError, KeyError, AttributeError) as exc:
                    # One malformed span (a non-numeric time, an attribute
                    # without "key") must not cost the rest of the batch.
                    result.reject(f"span {number}: malformed ({type(exc).__name__}: {exc})")
                    continue
                if record is not None:
                    keep_first(record, number, seen, result)
    return number


@register_format("otlp-json", content_types=("application/json",), matches=looks_like_otlp_json)
@gc_paused()
def parse_otlp_json(data: Any) -> ParseResult:
    """Parse a decoded OTLP/JSON trace document (see the module docstring for variants).

    Raises :class:`ParseError` if ``data`` is not an OTLP/JSON object.
    """
    result = ParseResult()
    try:
        _parse_into(_resource_spans(data), result, set(), -1)
    except (TypeError, AttributeError) as exc:  # e.g. a list where an object belongs
        raise ParseError(f"malformed OTLP/JSON: {exc}") from exc
    return result


@register_format(
    "otlp-jsonl",
    content_types=(
        "application/x-ndjson",
        "application/jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
    ),
    raw=True,
)
@gc_paused()
def parse_otlp_json_lines(text: bytes | str) -> ParseResult:
    """Parse OTLP/JSON Lines: one export object a line, as the Collector's file exporter writes.

    Blank lines are skipped. A line that is not JSON or not OTLP is counted
    as rejected and skipped; the other lines are kept.

    >>> body = b'{"resourceSpans": []}\\n\\nnot json\\n'
    >>> result = parse_otlp_json_lines(body)
    >>> result.rejected, result.errors[0][:21]
    (1, 'line 3: invalid JSON:')
    """
    if isinstance(text, str):
        text = text.encode()
    result = ParseResult()
    seen: set[tuple[str, str]] = set()
    number = -1
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            result.reject(f"line {line_number}: invalid JSON: {exc}")
            continue
        try:
            number = _parse_into(_resource_spans(doc), result, seen, number)
        except (ParseError, TypeError, AttributeError) as exc:
            result.reject(f"line {line_number}: {exc}")
    return result
