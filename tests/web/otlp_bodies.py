"""Real OTLP request bodies built with opentelemetry-proto, for receiver tests."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

T0 = 1_700_000_000_000_000_000


def export_request(
    spans: list[tuple[bytes, bytes]], *, service: str = "svc", links: int = 0
) -> ExportTraceServiceRequest:
    """One resource with one scope holding a span per ``(trace_id, span_id)`` pair."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value=service))
    )
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    for i, (trace_id, span_id) in enumerate(spans):
        span = ss.spans.add()
        span.trace_id = trace_id
        span.span_id = span_id
        span.name = f"op-{i}"
        span.kind = Span.SPAN_KIND_CONSUMER
        span.start_time_unix_nano = T0 + i
        span.end_time_unix_nano = T0 + i + 1000
        span.attributes.append(KeyValue(key="i", value=AnyValue(int_value=i)))
        for j in range(links):
            link = span.links.add()
            link.trace_id = bytes.fromhex(f"{j + 1:032x}")
            link.span_id = bytes.fromhex(f"{j + 1:016x}")
            link.attributes.append(
                KeyValue(key="link.type", value=AnyValue(string_value="async_trigger"))
            )
    return request


def ids(n: int, *, trace: int = 0xABC) -> tuple[bytes, bytes]:
    return bytes.fromhex(f"{trace:032x}"), bytes.fromhex(f"{n + 1:016x}")


def json_body(n: int = 2) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "tests"},
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": f"{i + 1:016X}",
                                "name": f"json-{i}",
                                "kind": 2,
                                "startTimeUnixNano": str(T0 + i),
                                "endTimeUnixNano": str(T0 + i + 500),
                            }
                            for i in range(n)
                        ],
                    }
                ],
            }
        ]
    }
