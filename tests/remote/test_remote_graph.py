"""``/api/graph`` over Jaeger: parallel fetches, the cache, partial graphs, incoming unknown.

Tasks run inline here (no REDIS_URL), so the traces are fetched in a thread
pool; tests/remote/test_workers.py covers the Celery group.
"""

from __future__ import annotations

import time

from .jaeger import BATCH, PRODUCERS, JSpan, fetches, serve_batch, serve_trace, sid, tid

# The recorded body: trace 1 (64-bit id ...01), whose span "reference-test"
# holds a CHILD_OF into trace ...ff, a link to another trace:
#
#   trace ff "publish" ──link──> trace 1 "reference-test"
TRACE_1 = tid(1)
TRACE_FF = tid(0xFF)


def graph(client, trace: str, status: int = 200, **params):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/graph/{trace}", params)
    assert response.status_code == status, response.content
    return response.json()


def test_it_draws_the_recorded_jaeger_trace_with_its_linked_trace(client, jaeger):
    jaeger.file(f"/api/traces/{TRACE_1}", "jaeger_uimodel_ui_01.json")
    serve_trace(jaeger, [JSpan(TRACE_FF, sid(0xFF), "publish", "orders")])

    data = graph(client, TRACE_1, direction="backward")

    assert {t["trace_id"] for t in data["traces"]} == {TRACE_1, TRACE_FF}
    links = {(e["source"], e["target"]) for e in data["edges"] if e["kind"] == "link"}
    assert (f"{TRACE_FF}:{sid(0xFF)}", f"{TRACE_1}:{sid(4)}") in links  # cause -> effect
    assert data["banner"] == "" and data["stats"]["unavailable"] == {}


def test_linked_traces_are_fetched_in_parallel_and_then_served_from_the_cache(client, jaeger):
    serve_batch(jaeger, delay=0.4)  # each producer answers after 0.4 s

    started = time.monotonic()
    first = graph(client, BATCH)
    elapsed = time.monotonic() - started

    assert {t["trace_id"] for t in first["traces"]} == {BATCH, *PRODUCERS}
    assert first["stats"]["ghosts"] == 0
    # One after another, six producers take at least 6 x 0.4 s.
    assert elapsed < 6 * 0.4, f"{elapsed:.2f} s: the producers were not fetched in parallel"
    asked = len(fetches(jaeger))
    assert asked == 2 * 7  # api_v3 (404 here), then v1, once per trace

    second = graph(client, BATCH)  # clicking back: nothing asked of Jaeger
    assert len(fetches(jaeger)) == asked
    assert second["nodes"] == first["nodes"] and second["edges"] == first["edges"]

    graph(client, PRODUCERS[0])  # re-centring on a producer: all cached too
    assert len(fetches(jaeger)) == asked


def test_a_trace_jaeger_does_not_have_is_cached_briefly_too(client, jaeger):
    serve_trace(jaeger, [JSpan(BATCH, sid(200), "batch.process", "settle",
                               follows=((tid(999), sid(999)),))])  # fmt: skip
    data = graph(client, BATCH)
    assert data["missing"] == [tid(999)] and data["stats"]["unavailable"] == {}
    asked = len(fetches(jaeger))
    graph(client, BATCH)
    assert len(fetches(jaeger)) == asked


def test_failing_traces_make_a_partial_graph_with_ghosts_and_a_banner(client, jaeger, settings):
    serve_batch(jaeger)
    slow, broken = PRODUCERS[1], PRODUCERS[4]
    serve_trace(jaeger, [JSpan(slow, sid(0), "x", "y")], delay=3)  # > the 1 s timeout
    jaeger.answer(f"/api/traces/{broken}", 503, b"upstream storage down", content_type="text/plain")

    data = graph(client, BATCH)

    unavailable = data["stats"]["unavailable"]
    assert set(unavailable) == {slow, broken}
    assert "did not answer within 1 s" in unavailable[slow]
    assert "HTTP 503" in unavailable[broken] and "upstream storage down" in unavailable[broken]
    assert data["banner"].startswith(
        f"2 of 7 traces could not be fetched from Jaeger at {jaeger.url}: "
    )
    assert "\n" not in data["banner"]
    # The links into the missing producers stay visible, as ghost nodes.
    ghosts = {n["id"] for n in data["nodes"] if n.get("ghost")}
    assert ghosts == {f"{slow}:{sid(int(slow, 16))}", f"{broken}:{sid(int(broken, 16))}"}
    assert data["stats"]["ghosts"] == 2

    # Failures are not cached: the next request asks again for those two only.
    before = len(fetches(jaeger))
    jaeger.answer(f"/api/traces/{broken}", 200, b"", content_type="application/json")
    serve_batch(jaeger)
    again = graph(client, BATCH)
    asked = fetches(jaeger)[before:]
    assert sorted({p.rsplit("/", 1)[1] for p in asked}) == sorted([slow, broken])
    assert again["stats"]["unavailable"] == {} and again["banner"] == ""


def test_the_start_trace_failing_is_a_503_not_a_graph(client, jaeger):
    jaeger.answer(f"/api/traces/{BATCH}", 502, b"bad gateway", content_type="text/plain")
    data = graph(client, BATCH, status=503)
    assert "HTTP 502" in data["error"]


def test_an_unknown_start_trace_is_a_404(client, jaeger):
    assert "not" in graph(client, tid(4242), status=404)["error"]


def test_jaeger_says_incoming_links_are_unknown(client, jaeger):
    serve_batch(jaeger)
    stats = graph(client, PRODUCERS[0], direction="forward")["stats"]
    assert stats["incoming_known"] is False
    assert stats["incoming_message"] == "incoming links unknown for this backend"


def test_the_local_store_still_knows_incoming_links(client, db):
    from tests.builders import span
    from tracegraph.traces.services import trace_batch_ingest

    trace_batch_ingest(spans=[span(tid(1), sid(1))])
    stats = graph(client, tid(1))["stats"]
    assert stats["incoming_known"] is True and stats["incoming_message"] == ""
    assert stats["unavailable"] == {} and "banner" in stats


def test_prefetch_without_workers_just_answers_the_graph(client, jaeger):
    serve_batch(jaeger)
    data = graph(client, BATCH, prefetch=1)
    assert "job" not in data and len(data["traces"]) == 7


def test_the_figure_endpoint_reads_through_the_cache_too(client, jaeger):
    serve_batch(jaeger)
    graph(client, BATCH)
    asked = len(fetches(jaeger))
    response = client.get(f"/graph/{BATCH}/figure")
    assert response.status_code == 200, response.content
    assert response.json()["stats"]["unavailable"] == {}
    assert len(fetches(jaeger)) == asked
