"""parse_zipkin_v2 against Zipkin's own messaging fixture."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.ingest.support import load
from tracegraph.domain.records import EventRecord, SpanKind, StatusCode
from tracegraph.ingest import ParseError, parse_zipkin_v2


def test_kafka_fixture_28_spans_padded_ids_and_micros() -> None:
    """zipkin-lens_messaging-kafka.json: 28 spans, one 64-bit trace id left-padded to 32,
    µs -> ns, 9 PRODUCER / 7 CONSUMER / 12 local (INTERNAL), parents all in the file."""
    result = parse_zipkin_v2(load("zipkin-lens_messaging-kafka.json"))

    assert (len(result.spans), result.rejected) == (28, 0)
    assert {s.trace_id for s in result.spans} == {"00000000000000000562809467078eab"}
    assert Counter(s.kind for s in result.spans) == {
        SpanKind.PRODUCER: 9,
        SpanKind.CONSUMER: 7,
        SpanKind.INTERNAL: 12,
    }
    ids = {s.span_id for s in result.spans}
    roots = [s for s in result.spans if not s.parent_span_id]
    assert [r.span_id for r in roots] == ["0562809467078eab"]
    assert all(s.parent_span_id in ids for s in result.spans if s.parent_span_id)
    root = roots[0]
    assert (root.start, root.end) == (1541405397200023000, 1541405397200049000)
    assert {s.service for s in result.spans} == {"servicea", "serviceb"}
    assert root.attributes == {"kafka.topic": "messages", "peer.service": "kafka"}
    assert root.resource_attributes == {"service.name": "servicea"}


def test_kafka_fixture_error_tag_means_error_even_when_empty() -> None:
    """Zipkin reads the presence of ``error`` as failure; its value is the message."""
    result = parse_zipkin_v2(load("zipkin-lens_messaging-kafka.json"))

    errors = [s for s in result.spans if s.status_code == StatusCode.ERROR]
    assert sorted(s.status_message for s in errors) == ["", "some error", "some error"]
    assert not any("error" in s.attributes for s in result.spans)


def zipkin_span(span_id: str, **fields: Any) -> dict[str, Any]:
    return {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": span_id, "name": "get", **fields}


def test_shared_server_half_is_a_duplicate_and_annotations_become_events() -> None:
    """A shared span repeats the client's id: the first is kept, the other counted."""
    spans = [
        zipkin_span(
            "a", kind="CLIENT", timestamp=10, annotations=[{"timestamp": 12, "value": "ws"}]
        ),
        zipkin_span("a", kind="SERVER", shared=True, timestamp=11),
        zipkin_span("b", parentId="a", timestamp=12),
        zipkin_span("not-hex"),
    ]

    result = parse_zipkin_v2(spans)

    assert [(s.span_id[-1], s.kind) for s in result.spans] == [("a", 3), ("b", 1)]
    assert result.spans[0].events == (EventRecord("ws", 12_000),)
    assert result.spans[1].parent_span_id == "000000000000000a"
    assert result.rejected == 2
    assert "duplicate span id 000000000000000a" in result.errors[0]
    assert result.errors[1] == "span 3 ('get'): invalid id 'not-hex'"


def test_a_list_of_traces_is_flattened() -> None:
    """``GET /api/v2/traces`` returns a list of traces, each a list of spans."""
    result = parse_zipkin_v2([[zipkin_span("1")], [zipkin_span("2")]])
    assert len(result.spans) == 2


def test_not_a_list_raises_parse_error() -> None:
    """Zipkin v2 is always a JSON list."""
    with pytest.raises(ParseError):
        parse_zipkin_v2({"traceId": "1"})
