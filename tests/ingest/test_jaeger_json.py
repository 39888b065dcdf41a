"""parse_jaeger_json against Jaeger's own fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ingest.support import load
from tracegraph.domain.records import SpanKind, StatusCode
from tracegraph.ingest import ParseError, parse_jaeger_json

TRACE_1 = "00000000000000000000000000000001"


def test_ui_fixture_references_become_parent_and_links() -> None:
    """jaeger_uimodel_ui_01.json: FOLLOWS_FROM and a cross-trace CHILD_OF become links.

    span 4's references, in order:
        CHILD_OF     trace ff / span ff   -> link, child_of (other trace)
        CHILD_OF     trace 1  / span 2    -> the parent (first same-trace CHILD_OF)
        FOLLOWS_FROM trace 1  / span 2    -> link, follows_from
    """
    result = parse_jaeger_json(load("jaeger_uimodel_ui_01.json"))

    by_id = {s.span_id: s for s in result.spans}
    span4 = by_id["0000000000000004"]
    assert span4.parent_span_id == "0000000000000002"
    assert [
        (link.index, link.linked_trace_id, link.linked_span_id, link.attributes)
        for link in span4.links
    ] == [
        (
            0,
            "000000000000000000000000000000ff",
            "00000000000000ff",
            {"opentracing.ref_type": "child_of"},
        ),
        (1, TRACE_1, "0000000000000002", {"opentracing.ref_type": "follows_from"}),
    ]
    assert by_id["0000000000000005"].parent_span_id == "0000000000000004"
    assert by_id["0000000000000003"].links == ()


def test_ui_fixture_duplicate_span_id_is_rejected() -> None:
    """jaeger_uimodel_ui_01.json: span id ...0002 appears twice; the first is kept."""
    result = parse_jaeger_json(load("jaeger_uimodel_ui_01.json"))

    assert [s.span_id[-1] for s in result.spans] == ["2", "3", "4", "5"]
    assert result.spans[0].name == "test-general-conversion"
    assert result.rejected == 1
    assert "duplicate span id 0000000000000002" in result.errors[0]


def test_ui_fixture_ids_times_processes_and_logs() -> None:
    """64-bit trace ids left-padded, µs -> ns, services from ``processes``, logs -> events."""
    result = parse_jaeger_json(load("jaeger_uimodel_ui_01.json"))

    first = result.spans[0]
    assert first.trace_id == TRACE_1
    assert (first.start, first.end) == (1485467191639875000, 1485467191639880000)
    assert [s.service for s in result.spans] == ["service-x", "service-y", "service-y", "service-y"]
    assert first.resource_attributes == {"service.name": "service-x"}
    assert [(e.name, e.time, e.attributes) for e in first.events] == [
        ("some-event", 1485467191639875000, {}),
        ("", 1485467191639875000, {"x": "y"}),
    ]


def test_ui_fixture_typed_tags() -> None:
    """The duplicate span's typed tags (int64 as a string, float64, bool error, binary),
    read by dropping the first span so the tagged one is kept."""
    doc = load("jaeger_uimodel_ui_01.json")
    del doc["spans"][0]

    span = parse_jaeger_json(doc).spans[0]

    assert span.name == "some-operation"
    assert span.status_code == StatusCode.ERROR  # from error=true, which is not kept as a tag
    assert span.attributes == {
        "peer.service": "service-y",
        "peer.ipv4": 23456,
        "temperature": 72.5,
        "javascript_limit": 9223372036854775222,
        "blob": "AAAwOQ==",
    }


def test_transform_output_envelope_kind_scope_and_duplicate() -> None:
    """jaeger-ui_otlp2jaeger-out.json: the ``{"data": [...]}`` envelope, ``span.kind``
    and ``otel.library.name`` tags become fields, the repeated spanID is rejected, and
    the CHILD_OF parent (not in the file) is still the parent."""
    result = parse_jaeger_json(load("jaeger-ui_otlp2jaeger-out.json"))

    (span,) = result.spans
    assert result.rejected == 1
    assert span.trace_id == "83a9efd15c1c98a977e0711cc93ee28b"
    assert span.parent_span_id == "909541b92cf05311"
    assert (span.kind, span.scope_name, span.service) == (
        SpanKind.SERVER,
        "telemetrygen",
        "telemetrygen",
    )
    assert span.attributes == {"net.peer.ip": "1.2.3.4", "peer.service": "telemetrygen-client"}
    assert (span.start, span.end) == (1706678909209712000, 1706678909209835000)


def jaeger_span(span_id: str, *, tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "traceID": "abc",
        "spanID": span_id,
        "operationName": f"op-{span_id}",
        "startTime": 1,
        "duration": 1,
        "processID": "p1",
        "tags": tags or [],
    }


def test_otel_status_tags_and_invalid_ids() -> None:
    """``otel.status_code``/``otel.status_description`` become the status; a bad id is rejected."""
    status_tags = [
        {"key": "otel.status_code", "type": "string", "value": "ERROR"},
        {"key": "otel.status_description", "type": "string", "value": "timeout"},
        {"key": "span.kind", "type": "string", "value": "consumer"},
        {"key": "flag", "type": "bool", "value": "true"},
    ]
    doc = {
        "data": [
            {
                "traceID": "abc",
                "processes": {"p1": {"serviceName": "w", "tags": [{"key": "host", "value": "h"}]}},
                "spans": [jaeger_span("1", tags=status_tags), jaeger_span("zz")],
            }
        ]
    }

    result = parse_jaeger_json(doc)

    (span,) = result.spans
    assert (span.status_code, span.status_message, span.kind) == (2, "timeout", SpanKind.CONSUMER)
    assert span.attributes == {"flag": True}
    assert span.resource_attributes == {"host": "h", "service.name": "w"}
    assert result.errors == ["span 1 ('op-zz'): invalid spanID 'zz'"]


@pytest.mark.parametrize("data", [{"data": "x"}, {"traceID": "1"}, 3])
def test_not_jaeger_raises_parse_error(data: Any) -> None:
    """A document without traces is an error, not an empty result."""
    with pytest.raises(ParseError):
        parse_jaeger_json(data)
