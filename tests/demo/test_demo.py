"""The demo, sent by the OpenTelemetry SDK over OTLP/HTTP to our receiver, read back.

The demo runs once for this module (through ``embedded_receiver``, the path
``manage.py demo`` takes); each test then checks one scenario in the store.
``A ──> B``: B holds a link to A (A caused B). ``[...]`` is one trace.

message_queue   [checkout-api POST /api/orders ─ publish orders]
                    ──> [fulfillment-worker process orders]                       x3
                [payments-api POST /api/refunds ─ publish refunds]
                    ──(no attributes)──> [refund-worker process refunds]
scheduled_job   [accounts-api POST /api/signup ─ user.signup.handler]
                    ──24 h──> [email-worker job.send-welcome-email]
retries         [attempt 1 ✗] ──> [attempt 2 ✗] ──> [attempt 3 ✓]   invoice.render.attempt
batch           [payments-api POST /api/payments ─ publish settlements] x12
                    ──> [settlement-batch batch.process              (12 links)
                          ├─ batch.item.process x12  (1 link each, item 7 ✗)
                          └─ INSERT settlements]
async_job       [reports-api POST /api/reports ─ job.enqueue] ──> [reports-worker job.execute] x2
saga            [validate] ─> [reserve-inventory] ─> [charge-payment] ─> [ship]
                [validate] ─> [reserve-inventory] ─> [charge-payment ✗] ─> [release-inventory]
                    each step links ALL earlier steps of its saga
event_sourcing  [orders-service command.create_order ─ eventstore.append]
                    ──> [order-read-model projection.order_created]
                    ──> [customer-timeline projection.customer_timeline]
search_fanout   [search-api GET /api/search
                  └─ search.federated ─┬─ search.source.elastic  ─┐
                                       ├─ search.source.postgres ─┼──> search.merge]
                                       └─ search.source.redis    ─┘   (all one trace)
awkward         (never sent) ──> [audit-consumer process audit-log]               dangling
                (all-zero ids + attributes) ──> [partner-webhooks POST /webhooks/partner]
                [clickstream-collector POST /collect ─ publish clickstream x5] x30
                    ──150──> [analytics-rollup batch.process]  SDK keeps 128, drops 22
plain           [checkout-api GET /api/orders/{order_id}]  [checkout-api POST /api/cart/checkout ✗]
"""

from __future__ import annotations

import itertools
import time

import pytest

from tracegraph.domain import LinkRecord, SpanKind, SpanRecord, StatusCode
from tracegraph.traces import selectors
from tracegraph.traces.demo import (
    DEMO_ENVIRONMENT,
    LINK_LIMIT,
    DemoSummary,
    demo_loaded,
)
from tracegraph.traces.models import Span, SpanLink, Trace

pytestmark = pytest.mark.django_db

MS = 1_000_000
H = 3_600 * 1_000 * MS


def _spans(service: str, name: str) -> list[SpanRecord]:
    """Spans by service and name, with their links, oldest first."""
    keys = Span.objects.filter(service=service, name=name).order_by("start_ns")
    found = [
        selectors.span_get(trace_id=t, span_id=s)
        for t, s in keys.values_list("trace_id", "span_id")
    ]
    return [s for s in found if s is not None]


def _one(service: str, name: str) -> SpanRecord:
    (span,) = _spans(service, name)
    return span


def _target(link: LinkRecord) -> SpanRecord:
    span = selectors.span_get(trace_id=link.linked_trace_id, span_id=link.linked_span_id)
    assert span is not None, f"link target {link.linked_trace_id}/{link.linked_span_id} missing"
    return span


def test_everything_sent_is_stored(demo: DemoSummary) -> None:
    assert demo.spans == Span.objects.count() > 250
    assert demo.traces == Trace.objects.count()
    # The SDK exports the links it kept; the receiver stores every one.
    assert demo.links == SpanLink.objects.count()
    assert {s.name for s in demo.scenarios} >= {"batch", "saga", "retries", "awkward"}
    assert selectors.trace_get(trace_id=demo.batch_trace_id).root_name == "batch.process"


def test_every_span_carries_the_demo_resource(demo: DemoSummary) -> None:
    envs = set(Span.objects.values_list("resource_attributes__deployment.environment", flat=True))
    assert envs == {DEMO_ENVIRONMENT}
    assert demo_loaded()


def test_consumers_link_their_producers_in_other_traces(demo: DemoSummary) -> None:
    consumers = _spans("fulfillment-worker", "process orders")
    assert len(consumers) == 3
    for consumer in consumers:
        assert consumer.kind == SpanKind.CONSUMER and consumer.parent_span_id == ""
        (link,) = consumer.links
        producer = _target(link)
        assert (producer.name, producer.kind, producer.service) == (
            "publish orders",
            SpanKind.PRODUCER,
            "checkout-api",
        )
        assert producer.trace_id != consumer.trace_id
        assert link.link_type == "async_trigger"
        assert link.attributes["link.queue.delay_ms"] == (consumer.start - producer.end) // MS
        assert (
            link.attributes["messaging.message.id"]
            == consumer.attributes["messaging.message.id"]
            == producer.attributes["messaging.message.id"]
        )
        assert consumer.attributes["messaging.system"] == "kafka"


def test_a_link_without_attributes_is_typed_by_its_consumer_kind(demo: DemoSummary) -> None:
    (link,) = _one("refund-worker", "process refunds").links
    assert link.attributes == {}
    assert link.link_type == "async_trigger"
    assert _target(link).name == "publish refunds"


def test_the_scheduled_job_runs_a_day_after_its_trigger(demo: DemoSummary) -> None:
    job = _one("email-worker", "job.send-welcome-email")
    (link,) = job.links
    trigger = _target(link)
    assert trigger.name == "user.signup.handler" and trigger.trace_id != job.trace_id
    assert link.link_type == "scheduled_trigger"
    assert link.attributes["schedule.delay"] == "24h"
    assert abs(job.start - trigger.end - 24 * H) < 1_000 * MS
    assert job.start <= time.time_ns()


def test_each_retry_links_the_previous_attempt(demo: DemoSummary) -> None:
    attempts = _spans("invoice-service", "invoice.render.attempt")
    assert [a.attributes["retry.attempt"] for a in attempts] == [1, 2, 3]
    assert [a.status_code for a in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.OK]
    assert len({a.trace_id for a in attempts}) == 3
    assert attempts[0].links == ()
    for previous, attempt in itertools.pairwise(attempts):
        (link,) = attempt.links
        assert (link.linked_trace_id, link.linked_span_id) == previous.key
        assert link.link_type == "retry_previous"
        assert link.attributes["retry.previous_attempt"] == attempt.attributes["retry.attempt"] - 1
        assert attempt.start - previous.end >= 2_000 * MS  # backoff


def test_the_batch_links_every_origin_and_each_item_its_own(demo: DemoSummary) -> None:
    root = selectors.span_get(
        trace_id=demo.batch_trace_id,
        span_id=Span.objects.get(trace_id=demo.batch_trace_id, parent_span_id="").span_id,
    )
    assert root is not None and (root.service, root.name) == ("settlement-batch", "batch.process")
    assert root.attributes["batch.size"] == len(root.links) == 12
    assert {link.link_type for link in root.links} == {"batch_source"}
    assert [link.attributes["link.batch.index"] for link in root.links] == list(range(12))
    origins = {link.attributes["link.batch.index"]: link for link in root.links}
    assert len({link.linked_trace_id for link in root.links}) == 12
    assert all(_target(link).name == "publish settlements" for link in root.links)

    items = [s for s in _spans("settlement-batch", "batch.item.process")]
    assert len(items) == 12
    for item in items:
        assert (item.trace_id, item.parent_span_id) == (root.trace_id, root.span_id)
        (link,) = item.links
        origin = origins[item.attributes["batch.item.index"]]
        assert (link.linked_trace_id, link.linked_span_id) == (
            origin.linked_trace_id,
            origin.linked_span_id,
        )
    assert [i.attributes["batch.item.index"] for i in items if i.status_code == 2] == [7]
    # Every origin trace knows the batch links into it.
    for trace in selectors.traces_present(trace_ids=[o.linked_trace_id for o in root.links]):
        assert trace.links_in == 2 and trace.root_name == "POST /api/payments"


def test_async_jobs_record_their_queue_time(demo: DemoSummary) -> None:
    runs = _spans("reports-worker", "job.execute")
    assert len(runs) == 2
    for run in runs:
        (link,) = run.links
        enqueue = _target(link)
        assert enqueue.name == "job.enqueue" and enqueue.kind == SpanKind.PRODUCER
        assert link.link_type == "async_trigger"
        assert link.attributes["job.id"] == run.attributes["job.id"] == enqueue.attributes["job.id"]
        assert link.attributes["link.queue.delay_ms"] == (run.start - enqueue.end) // MS
    assert [r.links[0].attributes["link.queue.delay_ms"] for r in runs] == [850, 47_000]


def test_each_saga_step_links_all_earlier_steps(demo: DemoSummary) -> None:
    steps = [
        s
        for s in Span.objects.filter(attributes__has_key="workflow.id").order_by("start_ns")
        if s.attributes["workflow.id"] == "saga-ord-48213"
    ]
    assert [s.attributes["workflow.step"] for s in steps] == [
        "validate",
        "reserve-inventory",
        "charge-payment",
        "ship",
    ]
    assert len({s.trace_id for s in steps}) == 4
    ship = selectors.span_get(trace_id=steps[3].trace_id, span_id=steps[3].span_id)
    assert ship is not None
    assert [(link.linked_trace_id, link.linked_span_id) for link in ship.links] == [
        (s.trace_id, s.span_id) for s in steps[:3]
    ]
    assert [link.attributes["workflow.previous_step"] for link in ship.links] == [
        "validate",
        "reserve-inventory",
        "charge-payment",
    ]
    assert {link.link_type for link in ship.links} == {"workflow_predecessor"}


def test_a_failed_saga_compensates(demo: DemoSummary) -> None:
    (release,) = _spans("inventory-service", "workflow.step.release-inventory")
    assert release.attributes["workflow.compensation"] is True
    failed = [_target(link) for link in release.links]
    assert [s.name for s in failed] == [
        "workflow.step.validate",
        "workflow.step.reserve-inventory",
        "workflow.step.charge-payment",
    ]
    assert failed[-1].status_code == StatusCode.ERROR


def test_projections_link_the_appended_event(demo: DemoSummary) -> None:
    append = _one("orders-service", "eventstore.append")
    incoming = selectors.span_links(
        trace_id=append.trace_id, span_id=append.span_id, direction="in"
    )
    holders = {(link.trace_id, link.span_id) for link in incoming}
    projections = [
        _one("order-read-model", "projection.order_created"),
        _one("customer-timeline", "projection.customer_timeline"),
    ]
    assert holders == {p.key for p in projections}
    for link in incoming:
        assert link.link_type == "event_source"
        assert link.attributes["event.type"] == "OrderCreated"
        assert link.attributes["event.sequence"] == append.attributes["event.sequence"]


def test_the_search_merge_links_its_parallel_source_calls(demo: DemoSummary) -> None:
    merge = _one("search-api", "search.merge")
    calls = [_target(link) for link in merge.links]
    assert sorted(c.name for c in calls) == [
        "search.source.elastic",
        "search.source.postgres",
        "search.source.redis",
    ]
    assert {c.trace_id for c in calls} == {merge.trace_id}
    assert {c.parent_span_id for c in calls} == {merge.parent_span_id}
    assert all(c.kind == SpanKind.CLIENT for c in calls)
    assert max(c.start for c in calls) < min(c.end for c in calls)  # they overlap
    assert merge.start >= max(c.end for c in calls)
    assert {link.link_type for link in merge.links} == {"fanout_source"}


def test_a_dangling_link_points_at_a_trace_never_sent(demo: DemoSummary) -> None:
    (link,) = _one("audit-consumer", "process audit-log").links
    assert not link.invalid
    assert selectors.trace_get(trace_id=link.linked_trace_id) is None
    incoming = selectors.links_into(trace_ids=[link.linked_trace_id])
    assert [(x.trace_id, x.span_id) for x in incoming] == [(link.trace_id, link.span_id)]


def test_an_all_zero_link_with_attributes_is_kept_as_invalid(demo: DemoSummary) -> None:
    webhook = _one("partner-webhooks", "POST /webhooks/partner")
    # The SDK exports the zero link that has attributes and silently drops
    # the one without (not counted in dropped_links_count).
    (link,) = webhook.links
    assert webhook.dropped_links_count == 0
    assert link.invalid
    assert (link.linked_trace_id, link.linked_span_id) == ("0" * 32, "0" * 16)
    assert link.attributes["link.invalid_reason"] == "all-zero trace id and span id"
    assert selectors.trace_get(trace_id=webhook.trace_id).links_out == 0


def test_the_sdk_drops_links_over_its_limit(demo: DemoSummary) -> None:
    rollup = _one("analytics-rollup", "batch.process")
    assert rollup.attributes["batch.size"] == 150
    assert rollup.attributes["batch.links_truncated"] is True
    assert len(rollup.links) == LINK_LIMIT
    assert rollup.dropped_links_count == 150 - LINK_LIMIT
    # The SDK keeps the newest links: the first 22 sources are the ones lost.
    kept = [link.attributes["link.batch.index"] for link in rollup.links]
    assert kept == list(range(150 - LINK_LIMIT, 150))
    assert len({link.linked_trace_id for link in rollup.links}) == 26


def test_plain_traces_have_no_links_and_one_fails(demo: DemoSummary) -> None:
    ok = selectors.trace_list(
        filters=selectors.TraceFilter(service="checkout-api", name="GET /api/orders/")
    )
    failed = selectors.trace_list(
        filters=selectors.TraceFilter(service="checkout-api", name="POST /api/cart/checkout")
    )
    assert [(t.span_count, t.error_count, t.links_out, t.links_in) for t in ok] == [(4, 0, 0, 0)]
    assert [(t.span_count, t.error_count, t.links_out, t.links_in) for t in failed] == [
        (3, 2, 0, 0)
    ]


def test_everything_is_recent(demo: DemoSummary) -> None:
    now = time.time_ns()
    assert Span.objects.filter(start_ns__lt=now - 48 * H).count() == 0
    assert Span.objects.filter(end_ns__gt=now).count() == 0
    recent = selectors.trace_list(filters=selectors.TraceFilter(limit=20))
    assert len({t.root_service for t in recent}) >= 8
