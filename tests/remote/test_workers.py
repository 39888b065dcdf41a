"""With Redis and a real Celery worker: the fetch group and the prefetch job.

GET /api/graph/200 ──group of backends.fetch_trace──> queue <prefix>.fetch ──> worker
    <── spans from the cache (Redis), outcomes from the result store ──┘
GET /api/graph/200?prefetch=1 ──> 202 {job} ──> traces.graph_prefetch (queue <prefix>.graphs)
GET /api/jobs/<id> <── progress {done, total, percent, message} ──┘
"""

from __future__ import annotations

import pytest

from tests.tasks.conftest import Broker, Finished, wait_until
from tracegraph.celery import app, queue_name
from tracegraph.traces.tasks import fetch_trace, graph_prefetch

from .jaeger import BATCH, PRODUCERS, JSpan, fetches, serve_batch, serve_trace, sid

pytestmark = pytest.mark.services


def test_the_fetch_and_prefetch_tasks_have_their_own_queues(broker: Broker):
    for name, kind in {"backends.fetch_trace": "fetch", "traces.graph_prefetch": "graphs"}.items():
        route = app.amqp.router.route({}, name)
        assert route["queue"].name == queue_name(kind) == f"{broker.prefix}.{kind}"
    assert (fetch_trace.name, graph_prefetch.name) == (
        "backends.fetch_trace",
        "traces.graph_prefetch",
    )
    # The graph request waits for a fetch's result; nobody waits for a redelivery.
    assert not fetch_trace.ignore_result and not fetch_trace.acks_late
    assert graph_prefetch.ignore_result and graph_prefetch.acks_late


def test_a_remote_graph_fetches_through_a_group_on_the_workers(
    client, jaeger, celery_worker: Finished
):
    serve_batch(jaeger)
    slow = PRODUCERS[2]
    jaeger.answer(f"/api/traces/{slow}", 503, b"storage down", content_type="text/plain")

    data = client.get(f"/api/graph/{BATCH}").json()

    assert {t["trace_id"] for t in data["traces"]} == {BATCH, *PRODUCERS}
    assert set(data["stats"]["unavailable"]) == {slow}, data["stats"]["unavailable"]
    assert data["banner"].startswith("1 of 7 traces could not be fetched from Jaeger at ")
    # The start trace, then its six producers, each a task the worker ran.
    celery_worker.wait("backends.fetch_trace", count=7)
    assert celery_worker.names.count("backends.fetch_trace") == 7

    serve_trace(jaeger, [JSpan(slow, sid(int(slow, 16)), "publish 3", "orders")])
    asked = len(fetches(jaeger))
    again = client.get(f"/api/graph/{BATCH}").json()
    assert again["stats"]["unavailable"] == {}
    assert len(fetches(jaeger)) == asked + 2  # only the one that failed (v3, then v1)
    assert celery_worker.names.count("backends.fetch_trace") == 8

    client.get(f"/api/graph/{BATCH}")
    assert len(fetches(jaeger)) == asked + 2  # all from the cache now: no task, no request
    assert celery_worker.names.count("backends.fetch_trace") == 8


def test_prefetch_starts_a_job_whose_progress_reaches_done(client, jaeger, celery_worker: Finished):
    serve_batch(jaeger, delay=0.1)

    response = client.get(f"/api/graph/{BATCH}", {"prefetch": "1", "depth": "1"})

    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["kind"] == "graph" and job["state"] in ("queued", "running", "done")

    def finished():  # type: ignore[no-untyped-def]
        status = client.get(f"/api/jobs/{job['id']}").json()
        return status if status["state"] in ("done", "failed") else None

    status = wait_until(finished, timeout=20, every=0.05)
    assert status["state"] == "done", status
    celery_worker.wait("traces.graph_prefetch")  # its postrun comes just after the job's end
    assert status["done"] == status["total"] == 7
    assert status["percent"] == 100.0 and status["unavailable"] == {}
    assert "7 traces ready" in status["message"]
    assert celery_worker.names.count("traces.graph_prefetch") == 1

    asked = len(fetches(jaeger))
    # Everything is cached now: the same prefetch answers the graph at once...
    ready = client.get(f"/api/graph/{BATCH}", {"prefetch": "1", "depth": "1"})
    assert ready.status_code == 200 and len(ready.json()["traces"]) == 7
    # ... and so does the plain graph request the page makes after the job.
    assert client.get(f"/api/graph/{BATCH}").status_code == 200
    assert len(fetches(jaeger)) == asked
    assert "backends.fetch_trace" not in celery_worker.names


def test_a_prefetch_with_the_broker_down_is_a_503(client, jaeger, settings):
    from tests.tasks.conftest import celery_broker

    serve_batch(jaeger)
    with celery_broker("redis://127.0.0.1:1/0"):
        response = client.get(f"/api/graph/{BATCH}", {"prefetch": "1"})
    assert response.status_code == 503
    assert "unreachable" in response.json()["error"]
