"""parse_otlp_protobuf: real protobuf encodings, built with opentelemetry-proto."""

from __future__ import annotations

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.ingest.support import (
    T0,
    kv,
    load,
    otlp_json_to_protobuf,
    request_with_scope,
    span_bytes,
    trace_bytes,
)
from tracegraph.domain.records import EventRecord, StatusCode
from tracegraph.ingest import ParseError, parse_otlp_json, parse_otlp_protobuf


def test_it_reads_every_field_of_a_span() -> None:
    """All AnyValue types, events, status, scope, resource and counters survive."""
    request, scope = request_with_scope("checkout")
    span = scope.spans.add(
        trace_id=trace_bytes(0xABC),
        span_id=span_bytes(2),
        parent_span_id=span_bytes(1),
        name="POST /pay",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 5_000,
        trace_state="vendor=1",
        flags=0x301,
        dropped_attributes_count=1,
        dropped_events_count=2,
        dropped_links_count=3,
        status=Status(code=Status.STATUS_CODE_ERROR, message="card declined"),
    )
    span.attributes.extend(
        [
            kv("s", string_value="x"),
            kv("i", int_value=-7),
            kv("d", double_value=2.5),
            kv("b", bool_value=False),
            kv("raw", bytes_value=b"\x00\x00\x30\x39"),
            kv("arr", array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue()])),
            kv("kv", kvlist_value=KeyValueList(values=[kv("inner", string_value="y")])),
        ]
    )
    event = span.events.add(name="retry", time_unix_nano=T0 + 10, dropped_attributes_count=4)
    event.attributes.append(kv("attempt", int_value=2))

    result = parse_otlp_protobuf(request.SerializeToString())

    assert (result.rejected, result.errors) == (0, [])
    (record,) = result.spans
    assert record.trace_id == f"{0xABC:032x}"
    assert record.span_id == "0000000000000002"
    assert record.parent_span_id == "0000000000000001"
    assert (record.name, record.kind, record.start, record.end) == ("POST /pay", 2, T0, T0 + 5000)
    assert (record.status_code, record.status_message) == (StatusCode.ERROR, "card declined")
    assert record.service == "checkout"
    assert record.resource_attributes == {"service.name": "checkout"}
    assert (record.scope_name, record.scope_version) == ("tests", "1.0")
    assert (record.trace_state, record.flags) == ("vendor=1", 0x301)
    assert (
        record.dropped_attributes_count,
        record.dropped_events_count,
        record.dropped_links_count,
    ) == (1, 2, 3)
    assert record.attributes == {
        "s": "x",
        "i": -7,
        "d": 2.5,
        "b": False,
        "raw": "AAAwOQ==",  # bytes as base64 text, as OTLP/JSON spells them
        "arr": [1, None],
        "kv": {"inner": "y"},
    }
    assert record.events == (EventRecord("retry", T0 + 10, {"attempt": 2}, 4),)


def test_it_rejects_a_span_with_an_all_zero_trace_id_and_keeps_the_others() -> None:
    """One bad span costs only itself, and the message says which one."""
    request, scope = request_with_scope()
    scope.spans.add(trace_id=trace_bytes(1), span_id=span_bytes(1), name="good-0")
    scope.spans.add(trace_id=bytes(16), span_id=span_bytes(2), name="zero-trace")
    scope.spans.add(trace_id=trace_bytes(1), span_id=b"\x01\x02", name="short-span")
    scope.spans.add(trace_id=trace_bytes(1), span_id=span_bytes(4), name="good-3")

    result = parse_otlp_protobuf(request.SerializeToString())

    assert [s.name for s in result.spans] == ["good-0", "good-3"]
    assert result.rejected == 2
    assert result.errors[0].startswith("span 1 ('zero-trace'): invalid traceId")
    assert result.errors[1].startswith("span 2 ('short-span'): invalid spanId")


def test_an_all_zero_link_is_kept_invalid_only_with_attributes() -> None:
    """The spec asks SDKs to send zero-context links for their attributes.

    links as sent:  [0] valid -> (7, 8)
                    [1] zero ids, with attributes   -> kept, invalid
                    [2] zero ids, no attributes     -> dropped
                    [3] malformed (short) span id, with attributes -> kept, invalid
    """
    request, scope = request_with_scope()
    span = scope.spans.add(trace_id=trace_bytes(1), span_id=span_bytes(1), name="holder")
    span.links.add(trace_id=trace_bytes(7), span_id=span_bytes(8))
    span.links.add(trace_id=bytes(16), span_id=bytes(8)).attributes.append(
        kv("reason", string_value="sampled out")
    )
    span.links.add(trace_id=bytes(16), span_id=bytes(8))
    span.links.add(trace_id=trace_bytes(7), span_id=b"\x09").attributes.append(
        kv("retry.attempt", int_value=1)
    )

    (record,) = parse_otlp_protobuf(request.SerializeToString()).spans

    assert [(link.index, link.invalid) for link in record.links] == [
        (0, False),
        (1, True),
        (3, True),
    ]
    valid, zero, malformed = record.links
    assert (valid.trace_id, valid.span_id) == (record.trace_id, record.span_id)
    assert (valid.linked_trace_id, valid.linked_span_id) == (f"{7:032x}", f"{8:016x}")
    assert (zero.linked_trace_id, zero.linked_span_id) == ("0" * 32, "0" * 16)
    assert zero.attributes == {"reason": "sampled out"}
    assert (malformed.linked_trace_id, malformed.link_type) == ("0" * 32, "retry_previous")


def test_it_types_links_from_link_type_else_from_the_holder() -> None:
    """``link.type`` wins; a CONSUMER holder without it is an async trigger."""
    request, scope = request_with_scope()
    consumer = scope.spans.add(
        trace_id=trace_bytes(1), span_id=span_bytes(1), kind=Span.SPAN_KIND_CONSUMER
    )
    consumer.links.add(trace_id=trace_bytes(2), span_id=span_bytes(2))
    declared = consumer.links.add(trace_id=trace_bytes(3), span_id=span_bytes(3))
    declared.attributes.append(kv("link.type", string_value="batch_source"))
    declared.trace_state = "k=v"
    declared.flags = 1

    (record,) = parse_otlp_protobuf(request.SerializeToString()).spans

    assert [link.link_type for link in record.links] == ["async_trigger", "batch_source"]
    assert (record.links[1].trace_state, record.links[1].flags) == ("k=v", 1)


def test_an_all_zero_parent_means_root() -> None:
    """Some SDKs send 8 zero bytes instead of leaving parentSpanId empty."""
    request, scope = request_with_scope()
    scope.spans.add(trace_id=trace_bytes(1), span_id=span_bytes(1), parent_span_id=bytes(8))

    (record,) = parse_otlp_protobuf(request.SerializeToString()).spans

    assert record.parent_span_id == ""


def test_a_repeated_span_id_is_rejected_and_the_first_kept() -> None:
    """A batch upsert must never see the same row twice."""
    request, scope = request_with_scope()
    scope.spans.add(trace_id=trace_bytes(1), span_id=span_bytes(1), name="first")
    scope.spans.add(trace_id=trace_bytes(1), span_id=span_bytes(1), name="again")
    scope.spans.add(trace_id=trace_bytes(2), span_id=span_bytes(1), name="other trace")

    result = parse_otlp_protobuf(request.SerializeToString())

    assert [s.name for s in result.spans] == ["first", "other trace"]
    assert result.rejected == 1
    assert "duplicate span id 0000000000000001" in result.errors[0]


def test_an_empty_body_is_an_empty_export() -> None:
    """OTLP allows an empty request; it is not an error."""
    result = parse_otlp_protobuf(b"")
    assert (result.spans, result.rejected) == ([], 0)


@pytest.mark.parametrize(
    "body", [b"hello world", b"<html></html>", b"\xff\xff\xff", b"\x0a\x05hello"]
)
def test_a_garbage_body_raises_parse_error(body: bytes) -> None:
    """Nothing that fails to decode reaches the store."""
    with pytest.raises(ParseError, match="not an OTLP protobuf"):
        parse_otlp_protobuf(body)


def test_a_body_of_unknown_fields_only_is_not_otlp() -> None:
    """Valid protobuf of some other message decodes to nothing we know: an error."""
    other = Status(code=Status.STATUS_CODE_OK, message="not a trace").SerializeToString()
    with pytest.raises(ParseError, match="no resourceSpans"):
        parse_otlp_protobuf(other + b"\xa2\x06\x01x")  # plus field 100, unknown everywhere


@pytest.mark.parametrize(
    "name",
    [
        "otlp-proto_examples_trace.json",
        "jaeger_memory_otel_traces_01.json",
        "jaeger_integration_link_attributes_trace.json",
    ],
)
def test_protobuf_and_json_of_the_same_real_export_give_the_same_records(name: str) -> None:
    """The real fixtures, re-encoded as protobuf, parse to exactly the JSON records.

    Covers the upper-case example ids, the 8 cross-trace and dangling links
    of the Jaeger memory fixture, and every AnyValue type in link attributes.
    """
    doc = load(name)

    from_proto = parse_otlp_protobuf(otlp_json_to_protobuf(doc))
    from_json = parse_otlp_json(doc)

    assert from_proto.spans == from_json.spans
    assert from_proto.rejected == from_json.rejected == 0
    assert len(from_proto.spans) >= 1
