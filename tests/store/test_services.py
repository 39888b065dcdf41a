"""The store: upserts, trace summaries and the reverse link index (DESIGN §2)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.builders import T0, sid, span, tid
from tracegraph.domain import LinkRecord
from tracegraph.traces import selectors
from tracegraph.traces.models import Span, SpanLink, Trace
from tracegraph.traces.services import trace_batch_ingest, traces_purge

pytestmark = pytest.mark.django_db

PRODUCER = (tid(1), sid(1))


def _consumer(n: int, **kw):  # type: ignore[no-untyped-def]
    return span(tid(100 + n), sid(100 + n), name="consume", kind=5, links=(PRODUCER,), **kw)


def test_it_upserts_a_resent_span_instead_of_duplicating_it():
    trace_batch_ingest(spans=[span(tid(1), sid(1), name="first")])
    trace_batch_ingest(spans=[span(tid(1), sid(1), name="second")])
    assert list(Span.objects.values_list("name", flat=True)) == ["second"]
    assert Trace.objects.get(trace_id=tid(1)).span_count == 1


def test_a_resent_span_with_fewer_links_drops_the_stale_ones():
    two = span(tid(2), sid(2), links=(PRODUCER, (tid(3), sid(3))))
    trace_batch_ingest(spans=[two])
    trace_batch_ingest(spans=[span(tid(2), sid(2), links=(PRODUCER,))])
    assert SpanLink.objects.filter(trace_id=tid(2)).count() == 1


def test_it_keeps_the_trace_summary_current():
    #   root (svc-a, "GET /")
    #    ├── db (error)
    #    └── publish ──link──> trace 9
    trace_batch_ingest(
        spans=[
            span(tid(1), sid(2), parent=sid(1), name="db", start=10, duration=50, status=2),
        ]
    )
    partial = Trace.objects.get(trace_id=tid(1))
    assert (partial.root_name, partial.span_count) == ("db", 1)  # the root has not arrived
    trace_batch_ingest(
        spans=[
            span(tid(1), sid(1), name="GET /", service="svc-a", duration=1_000),
            span(
                tid(1),
                sid(3),
                parent=sid(1),
                name="publish",
                duration=100,
                links=((tid(9), sid(9)),),
            ),
        ]
    )
    t = Trace.objects.get(trace_id=tid(1))
    assert (t.root_service, t.root_name) == ("svc-a", "GET /")
    assert (t.span_count, t.error_count, t.links_out, t.links_in) == (3, 1, 1, 0)
    assert t.duration_ns == 1_000


def test_links_in_counts_links_that_arrived_before_the_target():
    trace_batch_ingest(spans=[_consumer(1), _consumer(2)])
    assert not Trace.objects.filter(trace_id=tid(1)).exists()
    trace_batch_ingest(spans=[span(*PRODUCER, name="publish", kind=4)])
    assert Trace.objects.get(trace_id=tid(1)).links_in == 2
    trace_batch_ingest(spans=[_consumer(3)])
    assert Trace.objects.get(trace_id=tid(1)).links_in == 3


def test_incoming_links_are_one_query_also_for_a_target_never_stored(django_assert_num_queries):
    trace_batch_ingest(spans=[_consumer(n) for n in range(5)])
    with django_assert_num_queries(1):
        incoming = selectors.span_links(trace_id=PRODUCER[0], span_id=PRODUCER[1], direction="in")
    assert sorted(link.trace_id for link in incoming) == [tid(100 + n) for n in range(5)]
    assert all(isinstance(link, LinkRecord) for link in incoming)


def test_incoming_links_use_the_target_index():
    trace_batch_ingest(spans=[_consumer(n) for n in range(3)])
    sql = "SELECT trace_id FROM traces_spanlink WHERE linked_trace_id = %s AND linked_span_id = %s"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, list(PRODUCER))
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, list(PRODUCER))
        plan = " ".join(str(col) for row in cursor.fetchall() for col in row)
    assert "spanlink_target" in plan


def test_an_invalid_link_is_stored_but_not_counted_as_out():
    invalid = LinkRecord(
        trace_id=tid(5),
        span_id=sid(5),
        index=0,
        linked_trace_id="0" * 32,
        linked_span_id="0" * 16,
        attributes={"reason": "context lost"},
        invalid=True,
    )
    base = span(tid(5), sid(5))
    trace_batch_ingest(spans=[type(base)(**{**_fields(base), "links": (invalid,)})])
    assert SpanLink.objects.get(trace_id=tid(5)).invalid is True
    assert Trace.objects.get(trace_id=tid(5)).links_out == 0


def test_records_round_trip_through_the_store():
    sent = span(
        tid(7),
        sid(7),
        attributes={"http.method": "GET", "n": 3, "ok": True, "list": [1, 2]},
        resource_attributes={"service.name": "svc"},
        links=(PRODUCER,),
        link_attributes={"link.type": "async_trigger", "link.queue.delay_ms": 120},
    )
    trace_batch_ingest(spans=[sent])
    (got,) = selectors.trace_spans(trace_ids=[tid(7)])
    assert got == sent


def _fields(record):  # type: ignore[no-untyped-def]
    return {f: getattr(record, f) for f in record.__dataclass_fields__}


def test_purging_a_consumer_updates_the_links_in_of_its_producer():
    #   trace 1: publish (recent)  <──link──  trace 2: consume (old, purged)
    trace_batch_ingest(
        spans=[
            span(*PRODUCER, name="publish", start=10**12),
            span(tid(2), sid(2), name="consume", links=(PRODUCER,)),
        ]
    )
    assert Trace.objects.get(trace_id=tid(1)).links_in == 1
    assert traces_purge(older_than_ns=T0 + 10**9) == 1
    assert Trace.objects.get(trace_id=tid(1)).links_in == 0


def test_an_expansion_reads_a_link_once_and_gets_every_link_as_read_fresh():
    #   trace 1 ─┬─> trace 2 (consume; also links trace 3, and holds link 2 to trace 1 again)
    #            └─> trace 4 (consume)
    trace_batch_ingest(
        spans=[
            span(*PRODUCER, name="produce", kind=4),
            span(tid(2), sid(2), kind=5, links=(PRODUCER, (tid(3), sid(3)), PRODUCER)),
            span(tid(3), sid(3)),
            span(tid(4), sid(4), kind=5, links=(PRODUCER,)),
        ]
    )
    later = [tid(2), tid(3), tid(4)]
    source = selectors.StoreSource()
    incoming = source.links_into([tid(1)])  # level 0 reads the links into trace 1 ...
    assert sorted((lk.trace_id, lk.index) for lk in incoming) == [
        (tid(2), 0), (tid(2), 2), (tid(4), 0)
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        loaded = source.spans_of(later)  # ... so level 1 reads only those into other traces
    held_sql = next(q["sql"] for q in queries if "traces_spanlink" in q["sql"])
    assert "NOT IN" in held_sql and tid(1) in held_sql
    fresh = selectors.graph_spans(trace_ids=later)

    def links_of(spans):  # type: ignore[no-untyped-def]
        return {
            s.key: [(lk.index, lk.linked_trace_id, lk.attributes) for lk in s.links] for s in spans
        }

    assert links_of(loaded) == links_of(fresh)
    assert [lk.index for lk in next(s for s in loaded if s.trace_id == tid(2)).links] == [0, 1, 2]
    reused = {id(lk) for lk in incoming}
    assert sum(id(lk) in reused for s in loaded for lk in s.links) == 3  # not decoded again
