"""parse_otlp_json and parse_otlp_json_lines against the real public fixtures and variants."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from tests.ingest.support import fixture_path, load
from tracegraph.domain.records import EventRecord, SpanKind, StatusCode
from tracegraph.ingest import ParseError, parse_otlp_json, parse_otlp_json_lines


def one_span(**fields: Any) -> dict[str, Any]:
    """An OTLP/JSON export holding one span with ``fields``."""
    span = {"traceId": "0" * 31 + "1", "spanId": "0" * 15 + "1", "name": "op", **fields}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def test_the_official_example_normalises_upper_case_hex_ids() -> None:
    """otlp-proto_examples_trace.json: upper-case hex ids (allowed) come out lower-case."""
    result = parse_otlp_json(load("otlp-proto_examples_trace.json"))

    (span,) = result.spans
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert span.span_id == "eee19b7ec3c1b174"
    assert span.parent_span_id == "eee19b7ec3c1b173"
    assert (span.kind, span.service, span.name) == (
        SpanKind.SERVER,
        "my.service",
        "I'm a server span",
    )
    assert (span.scope_name, span.scope_version) == ("my.library", "1.0.0")
    assert (span.start, span.end) == (1544712660000000000, 1544712661000000000)
    assert span.attributes == {"my.span.attr": "some value"}


def test_jaeger_memory_fixture_keeps_cross_trace_and_dangling_links() -> None:
    """jaeger_memory_otel_traces_01.json: 4 spans in 2 traces, 8 links, 6 cross-trace.

    Every span links to span ...0004 of trace 1 and to trace ...ff..., which
    is not in the file (a dangling target, kept as a plain link).
    """
    result = parse_otlp_json(load("jaeger_memory_otel_traces_01.json"))

    assert (len(result.spans), result.rejected) == (4, 0)
    assert {s.trace_id for s in result.spans} == {
        "00000000000000010000000000000000",
        "00000000000000020000000000000000",
    }
    assert [s.kind for s in result.spans] == [2, 3, 4, 5]
    assert {s.status_code for s in result.spans} == {StatusCode.ERROR}
    links = [link for s in result.spans for link in s.links]
    assert len(links) == 8
    assert sum(link.linked_trace_id != link.trace_id for link in links) == 6
    assert not any(link.invalid for link in links)
    dangling = [
        link for link in links if link.linked_trace_id == "00000000000000ff0000000000000000"
    ]
    assert len(dangling) == 4
    assert {link.attributes["opentracing.ref_type"] for link in dangling} == {"child_of"}
    consumer = result.spans[3]
    assert [link.link_type for link in consumer.links] == ["async_trigger", "async_trigger"]
    first = result.spans[0]
    assert first.parent_span_id == "0000000000000003"
    assert (first.trace_state, first.flags, first.scope_name) == ("state.2", 1, "testing-library-2")
    assert first.attributes == {
        "peer.service": "service-y",
        "peer.ipv4": 23456,
        "blob": "AAAwOQ==",
        "temperature": 72.5,
    }
    assert first.events == (
        EventRecord("testing-event", 1485467191639875000, {"event-x": "event-y"}),
        EventRecord("", 1485467191639875000, {"x": "y"}),
    )


def test_link_attributes_fixture_reads_every_any_value_type() -> None:
    """jaeger_integration_link_attributes_trace.json: string, int (as a JSON string),
    bool, double and base64 bytes in link attributes; ``"scope": {}``; no parent;
    two links to the same span keep their own index."""
    (span,) = parse_otlp_json(load("jaeger_integration_link_attributes_trace.json")).spans

    assert (span.parent_span_id, span.scope_name, span.service) == ("", "", "query25-service")
    assert [link.index for link in span.links] == [0, 1, 2]
    assert span.links[0].attributes == {
        "opentracing.ref_type": "child_of",
        "sameplacelinkattribute1": "sameplacevalue",
        "sameplacelinkattribute2": 123,
        "sameplacelinkattribute4": True,
        "sameplacelinkattribute3": 72.5,
        "linkblob": "AAAwOQ==",
    }
    same_target = {(link.linked_trace_id, link.linked_span_id) for link in span.links[1:]}
    assert same_target == {("00000000000000000000000000000001", "0000000000000002")}
    assert [link.attributes["opentracing.ref_type"] for link in span.links[1:]] == [
        "child_of",
        "follows_from",
    ]


def test_jaeger_api_v3_result_envelope() -> None:
    """jaeger_apiv3_snapshot_GetTrace.json: ``{"result": {...}}``, empty resource and scope."""
    (span,) = parse_otlp_json(load("jaeger_apiv3_snapshot_GetTrace.json")).spans

    assert (span.trace_id, span.span_id) == ("0" * 31 + "1", "0" * 15 + "2")
    assert (span.service, span.kind, span.status_code) == ("", 2, StatusCode.ERROR)
    assert (span.start, span.end) == (0, 0)


def test_legacy_batches_and_tempo_v2_trace_envelopes() -> None:
    """Tempo v1 says ``batches``, Tempo v2 wraps the export in ``{"trace": ...}``."""
    doc = load("otlp-proto_examples_trace.json")
    batches = {"batches": doc["resourceSpans"]}
    tempo_v2 = {"trace": doc}

    expected = parse_otlp_json(doc).spans
    assert parse_otlp_json(batches).spans == expected
    assert parse_otlp_json(tempo_v2).spans == expected


def test_base64_ids_and_enum_names_as_tempo_writes_them() -> None:
    """Tempo's gogo-jsonpb output: base64 ids, ``SPAN_KIND_*``/``STATUS_CODE_*`` names."""
    trace = bytes.fromhex("5b8efff798038103d269b633813fc60c")
    doc = one_span(
        traceId=base64.b64encode(trace).decode(),
        spanId=base64.b64encode(bytes.fromhex("eee19b7ec3c1b174")).decode(),
        parentSpanId=base64.b64encode(bytes(8)).decode(),
        kind="SPAN_KIND_PRODUCER",
        status={"code": "STATUS_CODE_OK"},
        links=[{"traceId": base64.b64encode(trace).decode(), "spanId": "7uGbfsPBsXM="}],
    )

    (span,) = parse_otlp_json(doc).spans

    assert (span.trace_id, span.span_id) == (trace.hex(), "eee19b7ec3c1b174")
    assert span.parent_span_id == ""
    assert (span.kind, span.status_code) == (SpanKind.PRODUCER, StatusCode.OK)
    assert span.links[0].linked_span_id == "eee19b7ec3c1b173"


def test_numbers_as_strings_or_numbers_and_special_doubles() -> None:
    """intValue and nanosecond times arrive as strings or numbers; doubles as "NaN"."""
    doc = one_span(
        startTimeUnixNano=1000,
        endTimeUnixNano="2000",
        kind="3",
        attributes=[
            {"key": "n", "value": {"intValue": 5}},
            {"key": "s", "value": {"intValue": "6"}},
            {"key": "inf", "value": {"doubleValue": "Infinity"}},
            {"key": "empty", "value": {}},
        ],
    )

    (span,) = parse_otlp_json(doc).spans

    assert (span.start, span.end, span.kind) == (1000, 2000, SpanKind.CLIENT)
    assert span.attributes == {"n": 5, "s": 6, "inf": float("inf"), "empty": None}


def test_snake_case_keys_are_accepted() -> None:
    """Some exporters write the proto field names (``resource_spans``, ``trace_id``)."""
    doc = {
        "resource_spans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"string_value": "a"}}]
                },
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": "AB" * 16,
                                "span_id": "CD" * 8,
                                "start_time_unix_nano": "7",
                                "attributes": [{"key": "x_y", "value": {"int_value": "1"}}],
                            }
                        ]
                    }
                ],
            }
        ]
    }

    (span,) = parse_otlp_json(doc).spans

    assert (span.trace_id, span.span_id, span.start) == ("ab" * 16, "cd" * 8, 7)
    assert (span.service, span.attributes) == ("a", {"x_y": 1})


def test_bad_spans_are_rejected_and_the_rest_kept() -> None:
    """Invalid ids and malformed values cost only their own span."""
    doc = one_span()
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({"traceId": "0" * 32, "spanId": "1" * 16, "name": "zero"})
    spans.append({"traceId": "xyz", "spanId": "1" * 16, "name": "not hex"})
    spans.append({"traceId": "1" * 32, "spanId": "2" * 16, "startTimeUnixNano": "soon"})

    result = parse_otlp_json(doc)

    assert [s.name for s in result.spans] == ["op"]
    assert result.rejected == 3
    assert result.errors[0] == "span 1 ('zero'): invalid traceId '00000000000000000000000000000000'"
    assert result.errors[1] == "span 2 ('not hex'): invalid traceId 'xyz'"
    assert result.errors[2].startswith("span 3: malformed (ValueError")


def test_links_with_empty_ids_follow_the_invalid_link_rule() -> None:
    """The spec's file-exporter examples send links with empty ids."""
    doc = one_span(
        links=[
            {"traceId": "", "spanId": ""},
            {
                "traceId": "",
                "spanId": "",
                "attributes": [{"key": "k", "value": {"boolValue": True}}],
            },
        ]
    )

    (span,) = parse_otlp_json(doc).spans

    (link,) = span.links
    assert (link.index, link.invalid, link.linked_trace_id) == (1, True, "0" * 32)


@pytest.mark.parametrize("data", [[], "x", {"spans": []}, {"resourceSpans": {"a": 1}}])
def test_not_an_otlp_object_raises_parse_error(data: Any) -> None:
    """The caller gets one error type for a body that is not OTLP/JSON at all."""
    with pytest.raises(ParseError):
        parse_otlp_json(data)


def test_json_lines_from_the_real_js_sdk() -> None:
    """jaeger-ui_otlp2jaeger-multi-in.jsonl: 4 lines from the OpenTelemetry JS SDK
    1.22.0, one trace; the root's ``"parentSpanId": ""`` means no parent."""
    result = parse_otlp_json_lines(
        fixture_path("jaeger-ui_otlp2jaeger-multi-in.jsonl").read_bytes()
    )

    assert (len(result.spans), result.rejected) == (4, 0)
    assert {s.trace_id for s in result.spans} == {"c620759e5d60fafb8ee0922b30e06bc6"}
    by_id = {s.span_id: s for s in result.spans}
    assert by_id["eff3153be6b1fb93"].parent_span_id == ""
    assert by_id["49b8e9efa1e8a3b1"].parent_span_id == "eff3153be6b1fb93"
    assert {s.scope_name for s in result.spans} == {"ohboy", "widgets"}
    assert by_id["eff3153be6b1fb93"].resource_attributes["telemetry.sdk.version"] == "1.22.0"


def test_a_bad_json_line_is_counted_and_the_others_kept() -> None:
    """One corrupt line in a Collector file-exporter file does not lose the file."""
    good = orjson.dumps(one_span()).decode()
    other = orjson.dumps(one_span(spanId="2" * 16)).decode()
    text = f"{good}\n\n{{truncated\n[1, 2]\n{other}\n"

    result = parse_otlp_json_lines(text)

    assert [s.span_id for s in result.spans] == ["0" * 15 + "1", "2" * 16]
    assert result.rejected == 2
    assert result.errors[0].startswith("line 3: invalid JSON")
    assert result.errors[1].startswith("line 4: OTLP/JSON must be an object")
