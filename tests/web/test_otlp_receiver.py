"""``POST /v1/traces``: every ingest row of DESIGN §8, in both content types."""

from __future__ import annotations

import gzip
import tracemalloc

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.web.otlp_bodies import export_request, ids, json_body
from tracegraph.traces.models import Span, SpanLink, Trace

pytestmark = pytest.mark.django_db

PB = "application/x-protobuf"
URL = "/v1/traces"


def post(client, body: bytes, content_type: str = PB, **headers):  # type: ignore[no-untyped-def]
    return client.generic("POST", URL, body, content_type=content_type, headers=headers)


def test_it_stores_a_protobuf_export_and_answers_in_protobuf(client):
    body = export_request([ids(0), ids(1)], links=1).SerializeToString()
    response = post(client, body)
    assert response.status_code == 200
    assert response["Content-Type"] == PB
    reply = ExportTraceServiceResponse.FromString(response.content)
    assert not reply.HasField("partial_success")
    assert Span.objects.count() == 2
    assert SpanLink.objects.count() == 2
    assert Trace.objects.get(trace_id=f"{0xABC:032x}").span_count == 2


def test_it_accepts_gzip_and_content_type_parameters(client):
    body = gzip.compress(export_request([ids(0)]).SerializeToString())
    response = post(client, body, "application/x-protobuf; charset=binary", content_encoding="gzip")
    assert response.status_code == 200
    assert Span.objects.count() == 1


def test_it_stores_otlp_json_with_upper_case_ids_and_answers_in_json(client):
    response = post(client, orjson.dumps(json_body(2)), "application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    assert set(Span.objects.values_list("trace_id", flat=True)) == {
        "5b8efff798038103d269b633813fc60c"
    }


def test_some_invalid_spans_give_partial_success_and_the_valid_ones_are_stored(client):
    zero_trace = (bytes(16), bytes.fromhex("00000000000000aa"))
    body = export_request([ids(0), zero_trace, ids(2)]).SerializeToString()
    response = post(client, body)
    assert response.status_code == 200
    reply = ExportTraceServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_spans == 1
    assert "trace" in reply.partial_success.error_message.lower()
    assert Span.objects.count() == 2


def test_partial_success_in_json_writes_rejected_spans_as_a_string(client):
    data = json_body(2)
    data["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "0000000000000000"
    response = post(client, orjson.dumps(data), "application/json")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert Span.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe not protobuf at all", PB),
        (b"{not json", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"hello", PB),
    ],
)
def test_a_body_that_is_not_otlp_is_a_400_and_stores_nothing(client, body, content_type):
    response = post(client, body, content_type)
    assert response.status_code == 400
    assert Span.objects.count() == 0


def test_a_400_in_json_says_why(client):
    response = post(client, b"{not json", "application/json")
    assert "not JSON" in response.json()["error"]


def test_the_wrong_content_type_is_a_415(client):
    response = post(client, b"<xml/>", "application/xml")
    assert response.status_code == 415
    assert "application/x-protobuf" in response.json()["error"]


def test_an_unknown_content_encoding_is_a_415(client):
    response = post(client, b"x", PB, content_encoding="br")
    assert response.status_code == 415


def test_a_body_over_the_limit_is_a_413(client, settings):
    settings.TRACEGRAPH_MAX_BODY_BYTES = 1000
    response = post(client, b"\x00" * 2000)
    assert response.status_code == 413
    assert Span.objects.count() == 0


def test_a_gzip_bomb_is_a_413_without_inflating_it(client, settings):
    settings.TRACEGRAPH_MAX_BODY_BYTES = 1 << 20  # 1 MiB
    bomb = gzip.compress(b"\x00" * (200 << 20), compresslevel=9)  # 200 MiB of zeros
    assert len(bomb) < 1 << 20  # passes the compressed-size check
    tracemalloc.start()
    try:
        response = post(client, bomb, content_encoding="gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert peak < 16 << 20, f"inflating used {peak} bytes"


def test_corrupt_gzip_is_a_400(client):
    response = post(client, b"\x1f\x8b\x08\x00garbage", content_encoding="gzip")
    assert response.status_code == 400


def test_get_is_a_405(client):
    assert client.get(URL).status_code == 405


def test_a_token_is_required_when_configured(client, settings):
    settings.TRACEGRAPH_INGEST_TOKEN = "s3cret"
    body = export_request([ids(0)]).SerializeToString()
    assert post(client, body).status_code == 401
    assert post(client, body, authorization="Bearer wrong").status_code == 401
    assert post(client, body, authorization="Bearer s3cret").status_code == 200
    assert Span.objects.count() == 1
