"""One test per scenario of the span-links guide: each detector finds exactly
the expected finding with the expected members, and nothing else."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from tests.graphs.builders import (
    CLIENT,
    CONSUMER,
    ERROR,
    MS,
    OK,
    PRODUCER,
    ZERO_SPAN,
    ZERO_TRACE,
    key,
    link,
    span,
)
from tracegraph.domain.records import SpanRecord
from tracegraph.graphs import build_graph
from tracegraph.patterns import Finding, detect_patterns

HOUR = 3600 * 1000  # ms


def detect(spans: Iterable[SpanRecord]) -> list[Finding]:
    return detect_patterns(build_graph(spans))


def one(findings: list[Finding], kind: str) -> Finding:
    assert [f.kind for f in findings] == [kind], [f.summary for f in findings]
    return findings[0]


# ----------------------------------------------------------------- message queue


@pytest.mark.parametrize("typed", [True, False], ids=["link.type", "structural"])
def test_it_finds_a_message_queue_trigger(typed: bool) -> None:
    # trace 1                                 trace 2
    # [POST /orders]                          [order.process] (CONSUMER)
    #   └─[order.publish] (PRODUCER) ──link──>
    attrs = {"link.type": "async_trigger"} if typed else {}
    spans = [
        span(1, 1, "POST /orders", dur=20),
        span(1, 2, "order.publish", parent=1, start=2, dur=3, kind=PRODUCER),
        span(2, 1, "order.process", start=1505, dur=50, kind=CONSUMER,
             links=[link(key(1, 2), attrs)]),
    ]  # fmt: skip
    f = one(detect(spans), "async_trigger")
    assert f.spans == [key(1, 2), key(2, 1)]
    assert f.traces == [key(1, 2)[0], key(2, 1)[0]]
    assert f.details["delay"]["p50"] == 1500 * MS
    assert f.summary == "order.process ran 1.5 s after order.publish (async)"


def test_many_consumers_of_one_producer_are_one_finding_with_queue_delay_stats() -> None:
    # trace 1: [job.enqueue] (PRODUCER) ──link──> trace 2..11 [job.execute] (CONSUMER)
    spans = [span(1, 1, "job.enqueue", dur=1, kind=PRODUCER)]
    for i in range(10):
        spans.append(
            span(2 + i, 1, "job.execute", start=1 + 100 * (i + 1), kind=CONSUMER,
                 links=[link(key(1, 1))])
        )  # fmt: skip
    f = one(detect(spans), "async_trigger")
    assert f.details["count"] == 10
    assert f.details["delay"] == {"count": 10, "p50": 500 * MS, "p95": 1000 * MS, "max": 1000 * MS}
    assert f.summary.startswith("10 job.execute spans triggered by job.enqueue (async)")


# ----------------------------------------------------------------- scheduled job


def test_it_finds_a_scheduled_job_24_hours_after_its_trigger() -> None:
    # trace 1: [user.signup.handler]
    #              └──link(scheduled_trigger), 24 h later──> trace 2 [job.send-welcome-email]
    spans = [
        span(1, 1, "user.signup.handler", dur=10),
        span(2, 1, "job.send-welcome-email", start=10 + 24 * HOUR, dur=300,
             links=[link(key(1, 1), type="scheduled_trigger")]),
    ]  # fmt: skip
    f = one(detect(spans), "scheduled_trigger")
    assert f.spans == [key(1, 1), key(2, 1)]
    assert f.details["delay"]["p50"] == 24 * HOUR * MS
    assert f.summary == "job.send-welcome-email ran 24 h after user.signup.handler (scheduled)"


# ------------------------------------------------------------------------ retries


@pytest.mark.parametrize("typed", [True, False], ids=["retry attrs", "structural"])
def test_it_finds_a_retry_chain_of_three_attempts(typed: bool) -> None:
    # trace 1 [charge.attempt ERROR] <──link── trace 2 [charge.attempt ERROR]
    #                                 <──link── trace 3 [charge.attempt OK]
    #          backoff 200 ms                  backoff 400 ms
    def prev(n: int) -> list:  # type: ignore[type-arg]
        attrs = {"retry.previous_attempt": n} if typed else {}
        return [link(key(n, 1), attrs)]

    spans = [
        span(1, 1, "charge.attempt", start=0, dur=50, status=ERROR),
        span(2, 1, "charge.attempt", start=250, dur=50, status=ERROR, links=prev(1)),
        span(3, 1, "charge.attempt", start=700, dur=50, status=OK, links=prev(2)),
    ]
    f = one(detect(spans), "retry_chain")
    assert f.spans == [key(1, 1), key(2, 1), key(3, 1)]
    assert [a["outcome"] for a in f.details["attempts"]] == ["error", "error", "ok"]
    assert f.details["final_outcome"] == "ok"
    assert f.details["succeeded"] is True
    assert f.details["backoffs"] == [200 * MS, 400 * MS]
    assert f.summary == (
        "charge.attempt took 3 attempts (2 failed), final ok, backoff 200 ms, 400 ms"
    )


# -------------------------------------------------------------------------- batch


def batch_scenario(*, typed: bool, dropped: int = 0, n: int = 5) -> list[SpanRecord]:
    origins = [span(1 + i, 1, "order.create", start=10 * i, dur=5) for i in range(n)]
    batch_links = [
        link(o, {"link.type": "batch_source", "link.batch.index": i} if typed else {})
        for i, o in enumerate(origins)
    ]
    batch = span(
        99, 1, "batch.process", start=1000, dur=500, links=batch_links, dropped_links=dropped,
        attributes={"batch.links_truncated": True} if dropped else None,
    )  # fmt: skip
    items = [
        span(99, 2 + i, "batch.item.process", parent=1, start=1010 + 50 * i, dur=40,
             links=[link(o, {"link.type": "batch_source"} if typed else {})])
        for i, o in enumerate(origins)
    ]  # fmt: skip
    return [*origins, batch, *items]


@pytest.mark.parametrize("typed", [True, False], ids=["batch_source", "structural"])
def test_it_finds_a_batch_fan_in_with_per_item_spans(typed: bool) -> None:
    # trace 1..5 [order.create] ──link──> trace 99 [batch.process]
    #                                                ├─[batch.item.process 0] <──link── trace 1
    #                                                ├─ ...
    #                                                └─[batch.item.process 4] <──link── trace 5
    f = one(detect(batch_scenario(typed=typed)), "batch_fan_in")
    origins = [key(1 + i, 1) for i in range(5)]
    items = [key(99, 2 + i) for i in range(5)]
    assert f.details["batch"] == key(99, 1)
    assert f.details["sources"] == origins
    assert f.details["items"] == items
    assert sorted(f.spans) == sorted([*origins, key(99, 1), *items])
    assert len(f.links) == 10
    assert f.details["truncated"] is False
    # queue delay = batch start (1000) - origin end (5, 15, 25, 35, 45)
    assert f.details["queue_delay"]["p50"] == 975 * MS
    assert (
        f.summary == "batch.process links 5 producer traces, p50 queue delay 975 ms, 5 item spans"
    )


def test_a_batch_over_the_link_cap_says_how_many_links_were_dropped() -> None:
    # trace 1..3 [order.create] ──link──> trace 99 [batch.process] (+125 links dropped)
    f = one(detect(batch_scenario(typed=True, dropped=125, n=3)), "batch_fan_in")
    assert f.details["truncated"] is True
    assert f.details["dropped_links"] == 125
    assert f.summary.endswith(", 125 links dropped (truncated)")


# ---------------------------------------------------------------------- async job


def test_it_finds_an_async_job_with_its_declared_queue_delay() -> None:
    # trace 1: [job.enqueue] (PRODUCER) ──link(link.queue.delay_ms=1500)──> trace 2 [job.execute]
    spans = [
        span(1, 1, "job.enqueue", dur=2, kind=PRODUCER),
        span(2, 1, "job.execute", start=1502, dur=20, kind=CONSUMER,
             links=[link(key(1, 1), {"link.queue.delay_ms": 1500, "link.queue.name": "jobs"})]),
    ]  # fmt: skip
    f = one(detect(spans), "async_trigger")
    assert f.details["link_types"] == ["async_trigger"]
    assert f.details["delay"]["p50"] == 1500 * MS
    assert f.details["declared_delay"]["p50"] == 1500 * MS


# --------------------------------------------------------------------------- saga


@pytest.mark.parametrize("typed", [True, False], ids=["workflow attrs", "structural"])
def test_it_reduces_a_saga_whose_steps_link_all_earlier_steps_to_a_chain(typed: bool) -> None:
    # trace 1 [validate] <── trace 2 [reserve] <── trace 3 [charge] <── trace 4 [ship]
    #     ^                        ^─────────────────────────────────────────┤
    #     └─────────────────────────────────────── (3 and 4 also link every earlier step)
    names = ["validate", "reserve-inventory", "charge-payment", "ship"]
    spans = []
    for i, name in enumerate(names):
        links = [
            link(key(1 + j, 1), {"workflow.previous_step": names[j]} if typed else {})
            for j in range(i)
        ]
        spans.append(span(1 + i, 1, f"workflow.step.{name}", start=100 * i, dur=50, links=links))
    f = one(detect(spans), "workflow_chain")
    steps = [key(1 + i, 1) for i in range(4)]
    assert f.spans == steps
    assert f.details["chain"] == list(itertools.pairwise(steps))
    assert f.details["is_path"] is True
    assert f.details["redundant_links"] == 3
    assert len(f.links) == 6  # all six links explained, none left for a batch or trigger
    assert [g["gap"] for g in f.details["step_gaps"]] == [50 * MS] * 3
    assert f.summary == (
        "workflow of 4 steps: workflow.step.validate -> workflow.step.reserve-inventory"
        " -> workflow.step.charge-payment -> workflow.step.ship, 350 ms end to end,"
        " max step gap 50 ms"
    )


# ------------------------------------------------------------------- event source


def test_it_finds_an_event_sourcing_projection() -> None:
    # trace 1: [command.create_order] ──link(event_source)──> trace 2 [projection.order_created]
    spans = [
        span(1, 1, "command.create_order", dur=10),
        span(2, 1, "projection.order_created", start=60, dur=5,
             links=[link(key(1, 1), type="event_source")]),
    ]  # fmt: skip
    f = one(detect(spans), "event_trigger")
    assert f.spans == [key(1, 1), key(2, 1)]
    assert f.summary == "projection.order_created ran 50 ms after command.create_order (event)"


# ---------------------------------------------------------------- fan-out / fan-in


@pytest.mark.parametrize("typed", [True, False], ids=["fanout_source", "structural"])
def test_it_finds_a_federated_search_fan_out_fan_in(typed: bool) -> None:
    # trace 1: [search.federated 0..200]
    #            ├─[search.source.elastic  5..80 ] ──link──┐
    #            ├─[search.source.postgres 5..120] ──link──┼──> [search.merge 125..150]
    #            ├─[search.source.redis    5..30 ] ──link──┘
    #            └─[search.merge]
    attrs = {"link.type": "fanout_source"} if typed else {}
    sources = [("elastic", 75), ("postgres", 115), ("redis", 25)]
    spans = [span(1, 1, "search.federated", dur=200)]
    for i, (name, dur) in enumerate(sources):
        spans.append(span(1, 2 + i, f"search.source.{name}", parent=1, start=5, dur=dur,
                          kind=CLIENT))  # fmt: skip
    spans.append(span(1, 9, "search.merge", parent=1, start=125, dur=25,
                      links=[link(key(1, 2 + i), attrs) for i in range(3)]))  # fmt: skip
    f = one(detect(spans), "fan_out_fan_in")
    assert f.details["fan_out"] == key(1, 1)
    assert f.details["fan_in"] == key(1, 9)
    assert f.details["branches"] == [key(1, 2), key(1, 3), key(1, 4)]
    assert f.details["slowest"] == 115 * MS
    assert f.details["fan_in_wait"] == 5 * MS
    assert f.spans == [key(1, 1), key(1, 2), key(1, 3), key(1, 4), key(1, 9)]


# ------------------------------------------------------------------ awkward cases


def test_a_dangling_typed_link_is_a_trigger_from_a_ghost() -> None:
    # (trace 1 never arrived) ··link(async_trigger)··> trace 2 [order.process]
    spans = [span(2, 1, "order.process", links=[link(key(1, 1), type="async_trigger")])]
    G = build_graph(spans)
    f = one(detect_patterns(G), "async_trigger")
    assert f.spans == [key(1, 1), key(2, 1)]
    assert f.summary == "order.process was triggered by a span not loaded (async)"
    assert G.graph["anomalies"]["counts"]["dangling_links"] == 1


def test_a_dangling_untyped_link_finds_nothing() -> None:
    # (trace 1 never arrived) ··link··> trace 2 [worker]
    assert detect([span(2, 1, "worker", links=[link(key(1, 1))])]) == []


def test_an_invalid_all_zero_link_with_attributes_finds_nothing() -> None:
    # trace 2: [order.process] (CONSUMER) ──link──> 000…0 / 000…0  {messaging.message.id}
    bad = link((ZERO_TRACE, ZERO_SPAN), {"messaging.message.id": "m-1"}, invalid=True)
    G = build_graph([span(2, 1, "order.process", kind=CONSUMER, links=[bad])])
    assert detect_patterns(G) == []
    assert G.graph["anomalies"]["counts"]["invalid_links"] == 1


def test_a_plain_trace_finds_nothing() -> None:
    # trace 1: [GET /] ─┬─[auth]
    #                   ├─[db.query]  (parallel with auth)
    #                   └─[render]
    spans = [
        span(1, 1, "GET /", dur=100),
        span(1, 2, "auth", parent=1, start=1, dur=20),
        span(1, 3, "db.query", parent=1, start=2, dur=50, kind=CLIENT),
        span(1, 4, "render", parent=1, start=60, dur=20),
    ]
    assert detect(spans) == []


def test_all_scenarios_in_one_graph_report_each_link_once() -> None:
    # every scenario above side by side in disjoint traces: one finding each
    batch = batch_scenario(typed=False)
    saga = [
        span(200 + i, 1, f"step{i}", start=100 * i, links=[link(key(200 + j, 1)) for j in range(i)])
        for i in range(4)
    ]
    retry = [
        span(300, 1, "attempt", status=ERROR),
        span(301, 1, "attempt", start=100, links=[link(key(300, 1))]),
    ]
    queue = [
        span(400, 1, "publish", kind=PRODUCER),
        span(401, 1, "consume", start=50, kind=CONSUMER, links=[link(key(400, 1))]),
    ]
    findings = detect([*batch, *saga, *retry, *queue])
    assert sorted(f.kind for f in findings) == [
        "async_trigger",
        "batch_fan_in",
        "retry_chain",
        "workflow_chain",
    ]
    explained = [pair for f in findings for pair in f.links]
    assert len(explained) == len(set(explained)) == 10 + 6 + 1 + 1


def test_findings_serialise_to_json() -> None:
    import json

    findings = detect(batch_scenario(typed=True))
    payload = json.dumps([f.as_dict() for f in findings])
    assert '"kind": "batch_fan_in"' in payload


def test_kinds_filters_findings_without_changing_claims() -> None:
    spans = batch_scenario(typed=True)
    assert detect_patterns(build_graph(spans), kinds=["async_trigger"]) == []
