"""The local backend: the store behind the backend contract.

Two traces joined by one link, stored through the ingest service::

    producer trace 1   checkout  POST /orders
                                 └ orders publish <──link──┐
    consumer trace 2   worker    orders process ───────────┘
"""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from tests.builders import sid, span, tid
from tracegraph.backends import LocalBackend, TraceNotFound, get_backend
from tracegraph.graphs.expand import expand
from tracegraph.traces.services import trace_batch_ingest

pytestmark = pytest.mark.django_db

PRODUCER, CONSUMER = tid(1), tid(2)


@pytest.fixture
def local(settings: Settings) -> LocalBackend:
    settings.TRACEGRAPH_BACKEND = "local"
    trace_batch_ingest(
        spans=[
            span(PRODUCER, sid(1), name="POST /orders", service="checkout", kind=2),
            span(PRODUCER, sid(2), parent=sid(1), name="orders publish", start=10, kind=4),
            span(
                CONSUMER,
                sid(3),
                name="orders process",
                service="worker",
                start=5_000_000,
                kind=5,
                status=2,
                links=((PRODUCER, sid(2)),),
            ),
        ]
    )
    backend = get_backend()
    assert isinstance(backend, LocalBackend)
    return backend


def test_it_gets_a_trace_from_the_store(local: LocalBackend) -> None:
    root, publish = local.get_trace(PRODUCER.upper())
    assert (root.name, publish.name) == ("POST /orders", "orders publish")
    assert publish.parent_span_id == root.span_id


def test_an_unknown_trace_is_not_found(local: LocalBackend) -> None:
    with pytest.raises(TraceNotFound, match=f"trace {tid(9)} not found in local"):
        local.get_trace(tid(9))
    with pytest.raises(TraceNotFound):
        local.get_trace("zz")


def test_it_knows_incoming_links(local: LocalBackend) -> None:
    assert local.incoming_known is True
    [link] = local.links_into([PRODUCER])
    assert (link.trace_id, link.span_id, link.linked_span_id) == (CONSUMER, sid(3), sid(2))
    assert [s.trace_id for s in local.spans_of([CONSUMER, PRODUCER])] == [
        PRODUCER,
        PRODUCER,
        CONSUMER,
    ]


def test_search_reads_the_summary_rows(local: LocalBackend) -> None:
    assert [r.trace_id for r in local.search()] == [CONSUMER, PRODUCER]
    [row] = local.search(service="checkout")
    assert (row.root_name, row.span_count, row.links_in) == ("POST /orders", 2, 1)
    [row] = local.search(name="process", limit=5)
    assert (row.trace_id, row.error_count, row.links_out) == (CONSUMER, 1, 1)
    assert len(local.search(limit=1)) == 1


def test_expand_reads_the_local_backend(local: LocalBackend) -> None:
    hood = expand(local, PRODUCER, depth=1, direction="forward")
    assert hood.trace_ids == [PRODUCER, CONSUMER]
