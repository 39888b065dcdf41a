"""``POST /v1/traces`` in async mode: validate, queue in Redis, a worker stores.

receiver ──body──▶ Redis key <ingest queue>:body:<sha256>
    └────key────▶ queue <prefix>.ingest ──▶ worker: traces.ingest_batch ──▶ store
"""

from __future__ import annotations

import orjson
import pytest

from tests.tasks.conftest import Broker, Finished
from tests.web.otlp_bodies import export_request, ids, json_body
from tracegraph.traces.models import Span, Trace
from tracegraph.traces.tasks import ingest_batch

PB = "application/x-protobuf"
URL = "/v1/traces"


def post(client, body: bytes, content_type: str = PB):  # type: ignore[no-untyped-def]
    return client.generic("POST", URL, body, content_type=content_type)


def batch(n: int, *, trace: int = 0xABC) -> bytes:
    return export_request([ids(i, trace=trace) for i in range(n)]).SerializeToString()


@pytest.mark.django_db
def test_without_redis_async_mode_stores_inline(client, settings):
    settings.REDIS_URL = ""
    settings.TRACEGRAPH_INGEST_ASYNC = True
    response = post(client, batch(3))
    assert response.status_code == 200
    assert Span.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_worker_stores_what_the_receiver_queued(client, broker: Broker, worker: Finished):
    response = post(client, orjson.dumps(json_body(4)), "application/json")
    assert response.status_code == 200
    assert response.json() == {}
    worker.wait("traces.ingest_batch")
    assert Span.objects.count() == 4
    assert Trace.objects.get().span_count == 4
    assert list(broker.client.scan_iter(f"{broker.queue('ingest')}:body:*")) == []


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_twice_is_stored_once(client, broker: Broker, worker: Finished):
    body = batch(5)
    assert post(client, body).status_code == 200
    worker.wait("traces.ingest_batch", 1)
    assert post(client, body).status_code == 200
    worker.wait("traces.ingest_batch", 2)
    # A redelivered task (worker killed after storing, before its ack) runs
    # again with the body still in Redis: same rows, nothing added.
    key = broker.queue("ingest") + ":body:again"
    broker.client.set(key, body)
    assert ingest_batch.apply(args=(key, PB)).get() == 5
    assert Span.objects.count() == 5
    assert Trace.objects.get().span_count == 5


@pytest.mark.django_db
def test_bad_bodies_get_their_400_at_once_and_queue_nothing(client, broker: Broker):
    response = post(client, b"{not json", "application/json")
    assert response.status_code == 400
    assert "not JSON" in response.json()["message"]
    assert broker.length("ingest") == 0


@pytest.mark.django_db
def test_a_full_queue_answers_503_with_retry_after(client, broker: Broker):
    broker.settings.TRACEGRAPH_INGEST_QUEUE_LIMIT = 2
    # No worker consumes this test's queue: the batches wait.
    assert post(client, batch(1, trace=1)).status_code == 200
    assert post(client, batch(1, trace=2)).status_code == 200
    assert broker.length("ingest") == 2
    response = post(client, batch(1, trace=3), "application/x-protobuf")
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert b"limit 2" in response.content
    json_reply = post(client, orjson.dumps(json_body(1)), "application/json")
    assert json_reply.status_code == 503
    assert json_reply.json()["message"] == "the ingest queue holds 2 batches (limit 2); retry later"
    assert broker.length("ingest") == 2
    assert len(list(broker.client.scan_iter(f"{broker.queue('ingest')}:body:*"))) == 2
    assert not Span.objects.exists()


@pytest.mark.django_db
def test_redis_down_is_a_clear_503_and_the_embedded_path_still_stores(client, settings):
    settings.REDIS_URL = "redis://:secret@127.0.0.1:1/0"  # nothing listens on port 1
    settings.TRACEGRAPH_INGEST_ASYNC = True
    response = post(client, orjson.dumps(json_body(2)), "application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    message = response.json()["message"]
    assert message.startswith("the ingest queue (Redis at 127.0.0.1:1/0) is unreachable")
    assert message.endswith("; retry later")
    assert "secret" not in message
    assert not Span.objects.exists()

    settings.TRACEGRAPH_INGEST_ASYNC = False  # synchronous: Redis is not involved
    assert post(client, orjson.dumps(json_body(2)), "application/json").status_code == 200
    settings.REDIS_URL = ""  # the embedded default
    settings.TRACEGRAPH_INGEST_ASYNC = True
    assert post(client, batch(3)).status_code == 200
    assert Span.objects.count() == 5
