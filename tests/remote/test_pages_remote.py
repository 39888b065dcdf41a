"""The HTML pages over Jaeger: search, the trace page, the span panel, the figure.

The pages read through ``get_backend()``; Jaeger cannot say who links into a
trace, so the pages say "incoming links unknown", never "0 links in":

  trace 101 publish ─┐
  ...                ├──FOLLOWS_FROM──> trace 200 batch.process
  trace 106 publish ─┘
"""

from __future__ import annotations

import re

import orjson
import pytest

from .jaeger import BATCH, PRODUCERS, batch_spans, producer_spans, serve_batch, sid, v1_body

pytestmark = pytest.mark.django_db

UNKNOWN = "incoming links unknown for this backend (jaeger)"


def serve_search(jaeger) -> None:  # type: ignore[no-untyped-def]
    """``/api/services`` and ``/api/traces?service=`` answering the batch and one producer."""
    jaeger.answer("/api/services", 200, orjson.dumps({"data": ["orders", "settle"]}))
    docs = [
        orjson.loads(v1_body(BATCH, batch_spans())),
        orjson.loads(v1_body(PRODUCERS[0], producer_spans(PRODUCERS[0]))),
    ]
    found = {"data": [d["data"][0] for d in docs], "total": 2, "limit": 0, "offset": 0}
    jaeger.answer("/api/traces", 200, orjson.dumps(found))


def test_search_lists_the_jaeger_traces_without_made_up_link_counts(client, jaeger):
    serve_search(jaeger)

    response = client.get("/", {"service": "settle", "min_ms": "5"})

    assert response.status_code == 200
    html = response.content.decode()
    assert BATCH in html and PRODUCERS[0] in html
    assert "batch.process" in html and "publish 1" in html
    assert "only service and span name reach its search" in html
    assert "Ignored: min_ms" in html  # shown, not silently applied or dropped
    assert re.search(r'<input name="min_ms" disabled value="5"', html)
    assert "—" in html  # incoming links: unknown, not 0
    assert jaeger.only("/api/traces").query["service"] == "settle"


def test_the_trace_page_shows_the_spans_and_says_incoming_links_are_unknown(client, jaeger):
    serve_batch(jaeger)

    response = client.get(f"/traces/{BATCH}")

    assert response.status_code == 200
    html = response.content.decode()
    assert "batch.process" in html and "settle" in html
    assert UNKNOWN in html and "links in unknown" in html
    assert "→ 6" in html  # the six links the batch span holds
    assert 'class="badge in" title' not in html  # no per-span incoming badges


def test_the_span_panel_reads_through_jaeger(client, jaeger):
    serve_batch(jaeger)

    data = client.get(f"/traces/{BATCH}/spans/{sid(200)}").json()

    assert data["span"]["name"] == "batch.process"
    assert len(data["span"]["links"]) == 6
    assert data["incoming_known"] is False and data["backend"] == "jaeger"
    assert all(data["traces"][t]["stored"] for t in PRODUCERS)


def test_an_unknown_trace_is_the_404_page(client, jaeger):
    response = client.get(f"/traces/{'9' * 32}")

    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_a_failing_backend_is_a_503_page_with_its_message(client, jaeger):
    jaeger.answer(f"/api/traces/{BATCH}", 503, b"storage down", content_type="text/plain")

    response = client.get(f"/traces/{BATCH}")

    assert response.status_code == 503
    html = response.content.decode()
    assert "Trace backend unavailable" in html and "503" in html
    assert client.get(f"/traces/{BATCH}/spans/{sid(200)}").status_code == 503


def test_the_graph_page_asks_for_the_remote_neighbourhood_first(client, jaeger):
    response = client.get(f"/graph/{BATCH}")  # no fetch here: the figure request does it

    assert response.status_code == 200
    assert 'data-remote="1"' in response.content.decode()
    assert jaeger.paths() == []


def test_the_figure_of_a_partial_graph_carries_the_banner(client, jaeger):
    serve_batch(jaeger)
    broken = PRODUCERS[4]
    jaeger.answer(f"/api/traces/{broken}", 503, b"upstream storage down", content_type="text/plain")

    data = client.get(f"/graph/{BATCH}/figure").json()

    assert data["banner"].startswith("1 of 7 traces could not be fetched from Jaeger")
    assert data["stats"]["unavailable"].keys() == {broken}
    assert data["stats"]["incoming_known"] is False
