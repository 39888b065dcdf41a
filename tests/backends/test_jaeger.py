"""The jaeger backend against a local server replaying Jaeger's own bodies.

The bodies are copied from jaegertracing/jaeger and jaeger-ui (see
tests/fixtures/backends/README.md).
"""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from tracegraph.backends import (
    BackendUnavailable,
    JaegerBackend,
    TraceNotFound,
    get_backend,
)
from tracegraph.backends._http import HttpClient
from tracegraph.domain.records import SpanKind, StatusCode

from .server import FakeBackendServer

# ui_01.json and the api_v3 snapshot both hold Jaeger's 64-bit trace id 1.
TRACE_1 = "00000000000000000000000000000001"
TELEMETRYGEN = "83a9efd15c1c98a977e0711cc93ee28b"  # otlp2jaeger-out.json


@pytest.fixture
def jaeger(backend_server: FakeBackendServer, settings: Settings) -> JaegerBackend:
    settings.TRACEGRAPH_BACKEND = "jaeger"
    settings.TRACEGRAPH_JAEGER_URL = backend_server.url
    settings.TRACEGRAPH_BACKEND_AUTH_HEADER = "Authorization: Bearer jaeger-token"
    settings.TRACEGRAPH_BACKEND_TIMEOUT = 1
    backend = get_backend()
    assert isinstance(backend, JaegerBackend)
    return backend


def test_it_prefers_api_v3(jaeger: JaegerBackend, backend_server: FakeBackendServer) -> None:
    backend_server.file(f"/api/v3/traces/{TRACE_1}", "jaeger_apiv3_snapshot_GetTrace.json")
    backend_server.file(f"/api/traces/{TRACE_1}", "jaeger_uimodel_ui_01.json")

    [span] = jaeger.get_trace("0000000000000001")  # the 64-bit spelling is padded

    assert (span.trace_id, span.span_id, span.name) == (TRACE_1, "0000000000000002", "foobar")
    assert span.kind == SpanKind.SERVER and span.status_code == StatusCode.ERROR
    assert backend_server.paths() == [f"/api/v3/traces/{TRACE_1}"]
    assert backend_server.only(f"/api/v3/traces/{TRACE_1}").headers["authorization"] == (
        "Bearer jaeger-token"
    )
    assert jaeger.api_v3 is True


def test_it_falls_back_to_v1_and_reads_references_as_links(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file(f"/api/traces/{TRACE_1}", "jaeger_uimodel_ui_01.json")

    spans = jaeger.get_trace(TRACE_1)

    assert backend_server.paths() == [f"/api/v3/traces/{TRACE_1}", f"/api/traces/{TRACE_1}"]
    # The second span with id ...02 is a duplicate: the parser keeps the first.
    assert [s.span_id[-1] for s in spans] == ["2", "3", "4", "5"]
    reference_test = spans[2]
    assert reference_test.parent_span_id == "0000000000000002"
    assert [
        (lk.linked_trace_id[-2:], lk.attributes["opentracing.ref_type"])
        for lk in reference_test.links
    ] == [
        ("ff", "child_of"),  # a CHILD_OF into another (64-bit, padded) trace
        ("01", "follows_from"),
    ]
    assert jaeger.api_v3 is False  # still unknown: api_v3 is asked first next time too


def test_once_api_v3_answered_its_404_is_final(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file(f"/api/v3/traces/{TRACE_1}", "jaeger_apiv3_snapshot_GetTrace.json")
    jaeger.get_trace(TRACE_1)
    with pytest.raises(TraceNotFound):
        jaeger.get_trace("f" * 32)
    assert backend_server.paths()[1:] == [f"/api/v3/traces/{'f' * 32}"]  # v1 not asked


def test_the_telemetrygen_trace_from_the_v1_envelope(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file(f"/api/traces/{TELEMETRYGEN}", "jaeger-ui_otlp2jaeger-out.json")
    [span] = jaeger.get_trace(TELEMETRYGEN.upper())
    assert span.service == "telemetrygen" and span.kind == SpanKind.SERVER
    assert span.parent_span_id == "909541b92cf05311"


def test_an_unknown_trace_is_not_found(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    # What Jaeger's v1 API answers for an id it does not have.
    backend_server.answer(
        f"/api/traces/{TRACE_1}",
        404,
        b'{"data":null,"total":0,"limit":0,"offset":0,'
        b'"errors":[{"code":404,"msg":"trace not found"}]}',
    )
    with pytest.raises(TraceNotFound, match=f"trace {TRACE_1} not found in jaeger"):
        jaeger.get_trace(TRACE_1)
    with pytest.raises(TraceNotFound):
        jaeger.get_trace("not-a-trace-id")


def test_spans_of_skips_unknown_traces(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file(f"/api/v3/traces/{TRACE_1}", "jaeger_apiv3_snapshot_GetTrace.json")
    spans = jaeger.spans_of([TRACE_1, "f" * 32, TRACE_1])
    assert [s.trace_id for s in spans] == [TRACE_1]


def test_a_failing_jaeger_is_unavailable(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.answer(f"/api/v3/traces/{TRACE_1}", 500, b'{"error":{"message":"storage down"}}')
    with pytest.raises(BackendUnavailable, match=r"HTTP 500.*storage down"):
        jaeger.get_trace(TRACE_1)


def test_a_slow_jaeger_is_unavailable(backend_server: FakeBackendServer) -> None:
    backend_server.answer(f"/api/v3/traces/{TRACE_1}", 200, b"{}", delay=3)
    jaeger = JaegerBackend(HttpClient(backend_server.url, label="Jaeger", timeout=0.2))
    with pytest.raises(BackendUnavailable, match=r"Jaeger at .* did not answer within 0\.2 s"):
        jaeger.get_trace(TRACE_1)


def test_incoming_links_are_unknown(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    assert jaeger.incoming_known is False
    assert jaeger.links_into([TRACE_1]) == []
    assert backend_server.requests == []  # nothing to ask


def test_search_by_service_and_operation(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file("/api/traces", "jaeger-ui_otlp2jaeger-out.json")

    [row] = jaeger.search(service="telemetrygen", name="okey-dokey-0", limit=20)

    assert backend_server.only("/api/traces").query == {
        "service": "telemetrygen",
        "operation": "okey-dokey-0",
        "limit": "20",
    }
    assert (row.trace_id, row.root_service, row.root_name) == (
        TELEMETRYGEN,
        "telemetrygen",
        "okey-dokey-0",
    )
    assert row.span_count == 1 and row.duration == 123_000  # 123 µs


def test_search_without_a_service_asks_each_service(
    jaeger: JaegerBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file("/api/services", "jaeger_services.json")
    backend_server.file("/api/traces", "jaeger-ui_otlp2jaeger-out.json")

    rows = jaeger.search()

    assert backend_server.paths() == ["/api/services", "/api/traces"]
    assert backend_server.requests[1].query == {"service": "telemetrygen", "limit": "50"}
    assert [r.trace_id for r in rows] == [TELEMETRYGEN]
