"""``/api/graph`` over Tempo >= 2.6, whose incoming links are a TraceQL search.

producer 4bf92f35...  orders publish (PRODUCER) ──link──> consumer 0af76519... orders process
"""

from __future__ import annotations

import pytest

from tests.backends.server import FakeBackendServer

PRODUCER = "4bf92f3577b34da6a3ce929d0e0e4736"
CONSUMER = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
def tempo(backend_server: FakeBackendServer, settings) -> FakeBackendServer:  # type: ignore[no-untyped-def]
    settings.TRACEGRAPH_BACKEND = "tempo"
    settings.TRACEGRAPH_TEMPO_URL = backend_server.url
    settings.TRACEGRAPH_BACKEND_TIMEOUT = 1
    backend_server.file("/api/status/buildinfo", "tempo_buildinfo_2.6.1.json")
    backend_server.file(f"/api/v2/traces/{CONSUMER}", "tempo_v2_trace_consumer.json")
    backend_server.file(f"/api/traces/{PRODUCER}", "tempo_v1_trace_producer.json")
    return backend_server


def test_incoming_links_are_cached_like_the_traces(client, tempo):
    tempo.file("/api/search", "tempo_search_links.json")

    first = client.get(f"/api/graph/{PRODUCER}").json()
    assert "/api/search" in tempo.paths()
    asked = len(tempo.requests)
    second = client.get(f"/api/graph/{PRODUCER}").json()

    assert {t["trace_id"] for t in first["traces"]} == {PRODUCER, CONSUMER}
    assert first["stats"]["incoming_known"] is True
    assert second["nodes"] == first["nodes"]
    assert len(tempo.requests) == asked  # the link search and both traces: from the cache


def test_a_failing_link_search_says_incoming_links_are_unknown(client, tempo):
    tempo.answer("/api/search", 500, b"querier overloaded", content_type="text/plain")
    data = client.get(f"/api/graph/{PRODUCER}").json()
    stats = data["stats"]
    assert stats["incoming_known"] is False
    assert stats["incoming_message"].startswith("incoming links could not be fetched: ")
    assert "querier overloaded" in stats["incoming_message"]
    assert [t["trace_id"] for t in data["traces"]] == [PRODUCER]
