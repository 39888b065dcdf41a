"""Parser speed alone: 1000 spans, 8 attributes and 1 link each, protobuf and OTLP/JSON.

Prints spans/s for parse_otlp_protobuf and for detect_and_parse on the same
batch as OTLP/JSON (orjson decode included), best of N rounds, CPU time.

    .venv/bin/python bench/parse.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracegraph.domain.records import ParseResult
from tracegraph.ingest import detect_and_parse, parse_otlp_protobuf

N = 1000


def build() -> tuple[bytes, bytes]:
    """The same 1000 spans as an OTLP protobuf body and an OTLP/JSON body."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add(key="service.name")
    kv.value.string_value = "bench"
    ss = rs.scope_spans.add()
    ss.scope.name = "bench"
    spans = []
    for i in range(N):
        span = ss.spans.add(
            trace_id=os.urandom(16),
            span_id=os.urandom(8),
            parent_span_id=os.urandom(8),
            name=f"op{i % 20}",
            kind=2,
            start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_000_000_001_000 + i,
        )
        attributes = []
        for j in range(8):
            a = span.attributes.add(key=f"attr.{j}")
            if j % 3 == 0:
                a.value.int_value = i * j
                attributes.append({"key": a.key, "value": {"intValue": str(i * j)}})
            elif j % 3 == 1:
                a.value.string_value = f"value-{i}-{j}"
                attributes.append({"key": a.key, "value": {"stringValue": f"value-{i}-{j}"}})
            else:
                a.value.bool_value = True
                attributes.append({"key": a.key, "value": {"boolValue": True}})
        link = span.links.add(trace_id=os.urandom(16), span_id=os.urandom(8))
        la = link.attributes.add(key="link.type")
        la.value.string_value = "batch_source"
        span.status.code = 1
        spans.append(
            {
                "traceId": span.trace_id.hex(),
                "spanId": span.span_id.hex(),
                "parentSpanId": span.parent_span_id.hex(),
                "name": span.name,
                "kind": 2,
                "startTimeUnixNano": str(span.start_time_unix_nano),
                "endTimeUnixNano": str(span.end_time_unix_nano),
                "attributes": attributes,
                "links": [
                    {
                        "traceId": link.trace_id.hex(),
                        "spanId": link.span_id.hex(),
                        "attributes": [
                            {"key": "link.type", "value": {"stringValue": "batch_source"}}
                        ],
                    }
                ],
                "status": {"code": 1},
            }
        )
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "bench"}}]}
    doc = {
        "resourceSpans": [
            {"resource": resource, "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}
        ]
    }
    return req.SerializeToString(), orjson.dumps(doc)


def rate(parse: Callable[[bytes], ParseResult], body: bytes, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        result = parse(body)
        best = min(best, time.process_time() - t)
    assert len(result.spans) == N, result.errors
    return N / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    pb, js = build()
    print(f"batch of {N} spans: protobuf {len(pb):,} B, JSON {len(js):,} B")
    print(f"parse_otlp_protobuf       {rate(parse_otlp_protobuf, pb, args.rounds):>9,.0f} spans/s")
    print(
        f"detect_and_parse (JSON)   {rate(detect_and_parse, js, args.rounds):>9,.0f} spans/s"
        "  (orjson decode included)"
    )


if __name__ == "__main__":
    main()
