"""trace_level, service_level, journey and the link delay metrics."""

from __future__ import annotations

import networkx as nx
import pytest

from tests.graphs.builders import CONSUMER, ERROR, MS, PRODUCER, key, link, span, tid
from tracegraph.domain.records import SpanRecord
from tracegraph.graphs import (
    build_graph,
    delay_stats,
    delays_by,
    journey,
    link_delays,
    link_type_counts,
    service_level,
    trace_level,
)


def shop() -> list[SpanRecord]:
    # trace 1 (web)                       trace 2 (worker)               trace 3 (mailer)
    # [POST /order 0..50]                 [order.process 100..300]       [email.send 400..450]
    #   └─[order.publish 10..20] ──link──>   ├─[db.save 110..150]         ^
    #        (PRODUCER)                      └─[email.enqueue 200..210] ──link(async)
    #                                           (PRODUCER)
    return [
        span(1, 1, "POST /order", dur=50, service="web"),
        span(1, 2, "order.publish", parent=1, start=10, dur=10, kind=PRODUCER, service="web"),
        span(2, 1, "order.process", start=100, dur=200, kind=CONSUMER, service="worker",
             links=[link(key(1, 2))]),
        span(2, 2, "db.save", parent=1, start=110, dur=40, service="db", status=ERROR),
        span(2, 3, "email.enqueue", parent=1, start=200, dur=10, kind=PRODUCER,
             service="worker"),
        span(3, 1, "email.send", start=400, dur=50, kind=CONSUMER, service="mailer",
             links=[link(key(2, 3), type="async_trigger")]),
    ]  # fmt: skip


def test_trace_level_has_one_node_per_trace_and_aggregated_link_edges() -> None:
    T = trace_level(build_graph(shop()))
    assert sorted(T) == [tid(1), tid(2), tid(3)]
    assert T.nodes[tid(2)]["span_count"] == 3
    assert T.nodes[tid(2)]["error_count"] == 1
    assert T.nodes[tid(2)]["root_name"] == "order.process"
    assert T.nodes[tid(2)]["root_service"] == "worker"
    edge = T.edges[tid(1), tid(2)]
    assert edge["count"] == 1
    assert edge["link_types"] == {"link": 1}
    assert edge["delay_p50"] == edge["delay_max"] == 80 * MS


def test_trace_level_of_a_batch_is_one_weighted_edge_per_source_trace() -> None:
    # trace 1 [src a] [src b] ──2 links──> trace 2 [batch]   +  trace 3 (ghost) ──link──>
    spans = [
        span(1, 1, "src a"),
        span(1, 2, "src b"),
        span(2, 1, "batch", start=100, links=[link(key(1, 1)), link(key(1, 2)), link(key(3, 1))]),
    ]
    T = trace_level(build_graph(spans))
    assert T.edges[tid(1), tid(2)]["count"] == 2
    assert T.nodes[tid(3)]["ghost"] is True
    assert T.nodes[tid(3)]["span_count"] == 0


def test_service_level_counts_cross_service_calls_and_links() -> None:
    S = service_level(build_graph(shop()))
    assert sorted(S) == ["db", "mailer", "web", "worker"]
    assert S.edges["worker", "db"]["calls"] == 1
    assert S.edges["web", "worker"]["links"] == 1
    assert S.edges["worker", "mailer"]["link_types"] == {"async_trigger": 1}
    assert not S.has_edge("web", "web")  # same-service calls are not edges
    assert S.nodes["worker"]["span_count"] == 2


def test_journey_from_a_mid_span_goes_back_to_the_origin_and_on_to_the_last_effect() -> None:
    j = journey(build_graph(shop()), key(2, 2))
    assert [(s.name, s.via) for s in j.steps] == [
        ("POST /order", "origin"),
        ("order.publish", "child"),
        ("order.process", "link"),
        ("db.save", "child"),
    ]
    assert j.steps[j.focus].node == key(2, 2)
    assert j.latency == 300 * MS
    assert [(g.kind, g.duration) for g in j.gaps] == [("queue", 80 * MS)]
    assert j.waiting == 80 * MS and j.busy == 220 * MS


def test_journey_forward_follows_links_to_the_span_that_ends_latest() -> None:
    j = journey(build_graph(shop()), key(1, 2))
    assert [s.name for s in j.steps] == [
        "POST /order",
        "order.publish",
        "order.process",
        "email.enqueue",
        "email.send",
    ]
    assert [s.via for s in j.steps] == ["origin", "child", "link", "child", "link"]
    assert j.latency == 450 * MS
    assert j.waiting == (80 + 190) * MS
    assert j.traces == [tid(1), tid(2), tid(3)]


def test_journey_picks_the_latest_ending_cause_and_notes_ghosts() -> None:
    # trace 1 [early 0..10] ─┐
    # trace 2 [late  0..50] ─┼──link──> trace 3 [batch 100..110]
    # (trace 4 not loaded)  ─┘
    spans = [
        span(1, 1, "early", dur=10),
        span(2, 1, "late", dur=50),
        span(3, 1, "batch", start=100,
             links=[link(key(1, 1)), link(key(2, 1)), link(key(4, 1), type="retry_previous")]),
    ]  # fmt: skip
    j = journey(build_graph(spans), key(3, 1))
    assert [s.name for s in j.steps] == ["late", "batch"]
    assert j.dangling == [key(4, 1)]


def test_journey_rejects_ghosts_and_unknown_spans() -> None:
    G = build_graph([span(2, 1, "x", links=[link(key(1, 1))])])
    with pytest.raises(ValueError):
        journey(G, key(1, 1))
    with pytest.raises(nx.NodeNotFound):
        journey(G, key(9, 9))


def test_delay_stats_use_nearest_rank() -> None:
    values = list(range(1, 101))  # 1..100
    assert delay_stats(values) == {"count": 100, "p50": 50, "p95": 95, "max": 100}
    assert delay_stats([5]) == {"count": 1, "p50": 5, "p95": 5, "max": 5}


def test_link_delays_group_per_type_and_consumer_and_fall_back_to_declared() -> None:
    spans = [
        *shop(),
        span(5, 1, "late.consumer", kind=CONSUMER,
             links=[link(key(9, 1), {"link.queue.delay_ms": 7})]),
    ]  # fmt: skip
    G = build_graph(spans)
    assert len(link_delays(G)) == 3
    assert len(link_delays(G, declared=False)) == 2
    assert delays_by(G)["async_trigger"]["count"] == 2
    assert delays_by(G, by="consumer")["late.consumer"]["max"] == 7 * MS
    assert link_type_counts(G) == {"async_trigger": 2, "link": 1}
