"""The tempo backend against a local server replaying Tempo-shaped bodies.

The two traces of the fixtures, joined by one span link::

    producer 4bf92f35...  checkout      POST /orders ─┐
                                        └ orders publish (PRODUCER) ──link──┐
    consumer 0af76519...  order-worker  orders process (CONSUMER) <─────────┘
                                        └ reserve stock (error)
"""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from tracegraph.backends import BackendUnavailable, TempoBackend, TraceNotFound, get_backend
from tracegraph.domain.records import SpanKind, StatusCode
from tracegraph.graphs.expand import expand

from .server import FakeBackendServer

PRODUCER = "4bf92f3577b34da6a3ce929d0e0e4736"
CONSUMER = "0af7651916cd43dd8448eb211c80319c"
PUBLISH_SPAN = "53995c3f42cd8ad8"


@pytest.fixture
def tempo(backend_server: FakeBackendServer, settings: Settings) -> TempoBackend:
    settings.TRACEGRAPH_BACKEND = "tempo"
    settings.TRACEGRAPH_TEMPO_URL = backend_server.url
    settings.TRACEGRAPH_BACKEND_AUTH_HEADER = "X-Scope-OrgID: shop"
    settings.TRACEGRAPH_BACKEND_TIMEOUT = 1
    backend = get_backend()
    assert isinstance(backend, TempoBackend)
    return backend


def serve_both_traces(server: FakeBackendServer) -> None:
    server.file(f"/api/v2/traces/{CONSUMER}", "tempo_v2_trace_consumer.json")
    server.file(f"/api/traces/{PRODUCER}", "tempo_v1_trace_producer.json")


def test_it_reads_a_v2_trace(tempo: TempoBackend, backend_server: FakeBackendServer) -> None:
    serve_both_traces(backend_server)

    process, reserve = tempo.get_trace(CONSUMER)

    assert backend_server.paths() == [f"/api/v2/traces/{CONSUMER}"]
    assert backend_server.requests[0].headers["x-scope-orgid"] == "shop"
    # base64 ids and enum names, as Tempo writes them
    assert (process.trace_id, process.span_id) == (CONSUMER, "b7ad6b7169203331")
    assert process.kind == SpanKind.CONSUMER and process.service == "order-worker"
    [link] = process.links
    assert (link.linked_trace_id, link.linked_span_id) == (PRODUCER, PUBLISH_SPAN)
    assert link.link_type == "async_trigger"  # a consumer's link, no link.type attribute
    assert reserve.parent_span_id == process.span_id
    assert (reserve.status_code, reserve.status_message) == (
        StatusCode.ERROR,
        "out of stock: sku-42",
    )


def test_it_falls_back_to_the_v1_api(
    tempo: TempoBackend, backend_server: FakeBackendServer
) -> None:
    serve_both_traces(backend_server)

    root, publish = tempo.get_trace(PRODUCER)

    assert backend_server.paths() == [f"/api/v2/traces/{PRODUCER}", f"/api/traces/{PRODUCER}"]
    assert (root.name, root.kind) == ("POST /orders", SpanKind.SERVER)
    assert (publish.span_id, publish.kind, publish.status_code) == (
        PUBLISH_SPAN,
        SpanKind.PRODUCER,
        StatusCode.OK,
    )
    assert root.attributes["http.response.status_code"] == 201


def test_an_unknown_trace_is_not_found(tempo: TempoBackend) -> None:
    with pytest.raises(TraceNotFound, match=f"trace {'a' * 32} not found in tempo"):
        tempo.get_trace("A" * 32)


def test_a_500_is_unavailable_with_tempos_message(
    tempo: TempoBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.answer(
        f"/api/v2/traces/{CONSUMER}",
        500,
        b"rpc error: code = Unavailable desc = no healthy querier\n",
        content_type="text/plain",
    )
    with pytest.raises(BackendUnavailable) as caught:
        tempo.get_trace(CONSUMER)
    assert str(caught.value) == (
        f"Tempo at {backend_server.url} failed: HTTP 500 for /api/v2/traces/{CONSUMER}: "
        "rpc error: code = Unavailable desc = no healthy querier"
    )


def test_a_slow_tempo_is_unavailable(
    tempo: TempoBackend, backend_server: FakeBackendServer, settings: Settings
) -> None:
    settings.TRACEGRAPH_BACKEND_TIMEOUT = 0.3
    slow = get_backend()
    assert slow is not tempo  # the new timeout built a new client
    backend_server.file("/api/status/buildinfo", "tempo_buildinfo_2.6.1.json")
    backend_server.answer("/api/search", 200, b'{"traces": []}', delay=3)
    with pytest.raises(BackendUnavailable, match=r"did not answer within 0\.3 s"):
        slow.search(service="checkout")


def test_search_sends_traceql(tempo: TempoBackend, backend_server: FakeBackendServer) -> None:
    backend_server.file("/api/search", "tempo_search.json")

    rows = tempo.search(service="checkout", name="POST /orders", limit=20)

    query = backend_server.only("/api/search").query
    assert query["q"] == '{ resource.service.name = "checkout" && name = "POST /orders" }'
    assert query["limit"] == "20"
    assert int(query["end"]) - int(query["start"]) == 24 * 3600
    # most recent first; Tempo's shortened id (leading zero dropped) is padded back
    assert [r.trace_id for r in rows] == [CONSUMER, PRODUCER]
    consumer = rows[0]
    assert (consumer.root_service, consumer.root_name) == ("order-worker", "orders process")
    assert consumer.duration == 60_000_000
    assert (consumer.span_count, consumer.error_count) == (2, 1)


def test_incoming_links_on_tempo_2_6(
    tempo: TempoBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file("/api/status/buildinfo", "tempo_buildinfo_2.6.1.json")
    backend_server.file("/api/search", "tempo_search_links.json")
    serve_both_traces(backend_server)

    assert tempo.incoming_known is True
    [link] = tempo.links_into([PRODUCER])

    assert backend_server.only("/api/search").query["q"] == f'{{ link:traceID = "{PRODUCER}" }}'
    assert (link.trace_id, link.span_id) == (CONSUMER, "b7ad6b7169203331")
    assert (link.linked_trace_id, link.linked_span_id) == (PRODUCER, PUBLISH_SPAN)
    assert backend_server.paths().count("/api/status/buildinfo") == 1
    tempo.links_into([PRODUCER])
    assert backend_server.paths().count("/api/status/buildinfo") == 1  # remembered


def test_incoming_links_are_unknown_before_tempo_2_6(
    tempo: TempoBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file("/api/status/buildinfo", "tempo_buildinfo_2.4.2.json")
    assert tempo.incoming_known is False
    assert tempo.links_into([PRODUCER]) == []
    assert "/api/search" not in backend_server.paths()


def test_an_unreachable_tempo_does_not_claim_to_know_links(
    tempo: TempoBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.answer("/api/status/buildinfo", 503, b"starting up")
    assert tempo.incoming_known is False
    backend_server.file("/api/status/buildinfo", "tempo_buildinfo_2.6.1.json")
    assert tempo.incoming_known is True  # asked again: the failure was not remembered


def test_expand_follows_links_both_ways_through_tempo(
    tempo: TempoBackend, backend_server: FakeBackendServer
) -> None:
    backend_server.file("/api/status/buildinfo", "tempo_buildinfo_2.6.1.json")
    backend_server.file("/api/search", "tempo_search_links.json")
    serve_both_traces(backend_server)

    forward = expand(tempo, PRODUCER, depth=1, direction="forward")
    backward = expand(tempo, CONSUMER, depth=1, direction="backward")

    assert forward.trace_ids == [PRODUCER, CONSUMER]
    assert forward.incoming_known is True
    assert backward.trace_ids == [CONSUMER, PRODUCER]


def test_once_v2_answered_its_404_is_final(
    tempo: TempoBackend, backend_server: FakeBackendServer
) -> None:
    serve_both_traces(backend_server)
    tempo.get_trace(CONSUMER)
    with pytest.raises(TraceNotFound):
        tempo.get_trace("f" * 32)
    assert backend_server.paths()[1:] == [f"/api/v2/traces/{'f' * 32}"]  # v1 not asked
