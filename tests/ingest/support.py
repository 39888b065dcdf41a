"""Paths to the public fixtures and builders of real OTLP protobuf bodies."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

PUBLIC = Path(__file__).resolve().parent.parent / "fixtures" / "public"

T0 = 1_700_000_000_000_000_000


def fixture_path(name: str) -> Path:
    return PUBLIC / name


def load(name: str) -> Any:
    return orjson.loads(fixture_path(name).read_bytes())


def kv(key: str, **value: Any) -> KeyValue:
    """``kv("a", int_value=1)`` -> a KeyValue."""
    return KeyValue(key=key, value=AnyValue(**value))


def request_with_scope(service: str = "svc") -> tuple[ExportTraceServiceRequest, Any]:
    """A request with one resource (``service.name``) and one scope; returns it and the scope."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(kv("service.name", string_value=service))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    scope_spans.scope.version = "1.0"
    return request, scope_spans


def trace_bytes(n: int) -> bytes:
    return n.to_bytes(16, "big")


def span_bytes(n: int) -> bytes:
    return n.to_bytes(8, "big")


def otlp_json_to_protobuf(doc: Any) -> bytes:
    """Encode an OTLP/JSON document as the protobuf body an SDK would send.

    OTLP/JSON ids are hex, the protobuf JSON mapping expects base64: rewrite
    the ids, then let ``json_format`` do the rest (the real encoder).
    """
    doc = copy.deepcopy(doc)

    def b64(hex_id: str) -> str:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()

    for resource_spans in doc["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = b64(span[key])
                for link in span.get("links", ()):
                    link["traceId"], link["spanId"] = b64(link["traceId"]), b64(link["spanId"])
    request = json_format.ParseDict(doc, ExportTraceServiceRequest())
    return request.SerializeToString()
