"""build_graph: nodes, child and link edges, ghosts, repaired anomalies."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

from tests.graphs.builders import (
    CONSUMER,
    MS,
    PRODUCER,
    ZERO_SPAN,
    ZERO_TRACE,
    key,
    link,
    span,
)
from tracegraph.domain.records import LinkRecord
from tracegraph.graphs import build_graph
from tracegraph.graphs.build import child_edges, link_edges

NODE_ATTRS = {
    "id",
    "trace_id",
    "span_id",
    "name",
    "service",
    "kind",
    "start",
    "end",
    "status",
    "parent",
    "ghost",
}


def test_it_links_consumer_to_producer() -> None:
    # trace 1                      trace 2
    # [api]                        [order.process] (CONSUMER)
    #   └─[order.publish] ──link──>   └─[db.save]
    #       (PRODUCER)
    spans = [
        span(1, 1, "api", dur=50),
        span(1, 2, "order.publish", parent=1, start=5, dur=5, kind=PRODUCER),
        span(2, 1, "order.process", start=30, dur=20, kind=CONSUMER, links=[link(key(1, 2))]),
        span(2, 2, "db.save", parent=1, start=35, dur=5),
    ]
    G = build_graph(spans)

    assert G.number_of_nodes() == 4
    assert set(G.nodes[key(1, 1)]) == NODE_ATTRS
    assert all(d["id"] == f"{n[0]}:{n[1]}" for n, d in G.nodes(data=True))
    assert sorted(child_edges(G)) == [(key(1, 1), key(1, 2)), (key(2, 1), key(2, 2))]
    [(cause, effect, _, data)] = link_edges(G)
    assert (cause, effect) == (key(1, 2), key(2, 1))
    assert data["link_type"] == "link"
    assert data["delay"] == 20 * MS  # consumer start - producer end
    assert G.graph["anomalies"]["counts"] == dict.fromkeys(G.graph["anomalies"]["counts"], 0)


def test_it_keeps_the_first_of_duplicate_spans() -> None:
    # trace 1: [a] [a'] (same span id twice)
    G = build_graph([span(1, 1, "first"), span(1, 1, "second")])
    assert G.nodes[key(1, 1)]["name"] == "first"
    anomalies = G.graph["anomalies"]
    assert anomalies["duplicate_spans"] == [key(1, 1)]
    assert anomalies["counts"]["duplicate_spans"] == 1


def test_it_breaks_a_parent_cycle_at_the_earliest_span() -> None:
    # trace 1:  a -> b -> c -> a   (parent pointers loop)    d -> d (self-parent)
    spans = [
        span(1, 1, "a", parent=3, start=0),
        span(1, 2, "b", parent=1, start=1),
        span(1, 3, "c", parent=2, start=2),
        span(1, 4, "d", parent=4, start=3),
    ]
    G = build_graph(spans)
    anomalies = G.graph["anomalies"]
    assert sorted(anomalies["parent_cycles"]) == [key(1, 1), key(1, 4)]
    assert sorted(child_edges(G)) == [(key(1, 1), key(1, 2)), (key(1, 2), key(1, 3))]


def test_it_treats_a_span_with_a_missing_parent_as_an_orphan_root() -> None:
    # trace 1:  (9 not loaded) ··> [x]
    G = build_graph([span(1, 1, "x", parent=9)])
    assert G.graph["anomalies"]["orphans"] == [key(1, 1)]
    assert G.nodes[key(1, 1)]["parent"] == "0000000000000009"
    assert G.in_degree(key(1, 1)) == 0


def test_it_reports_clock_skew() -> None:
    # trace 1:  [parent 10..20]
    #           [child   5..15]   starts before its parent
    #           [child  12..30]   ends after its parent
    spans = [
        span(1, 1, "parent", start=10, dur=10),
        span(1, 2, "early", parent=1, start=5, dur=10),
        span(1, 3, "late", parent=1, start=12, dur=18),
        span(1, 4, "fine", parent=1, start=11, dur=2),
    ]
    G = build_graph(spans)
    assert sorted(G.graph["anomalies"]["clock_skew"]) == [key(1, 2), key(1, 3)]


def test_a_dangling_link_points_at_a_ghost_node() -> None:
    # trace 2: [consumer] <──link── (trace 1 span 1: never arrived)
    G = build_graph([span(2, 1, "consumer", links=[link(key(1, 1))])])
    ghost = G.nodes[key(1, 1)]
    assert ghost["ghost"] is True
    assert ghost["start"] is None
    assert set(ghost) == NODE_ATTRS
    assert ghost["id"] == f"{key(1, 1)[0]}:{key(1, 1)[1]}"
    [(_, _, _, data)] = link_edges(G)
    assert data["delay"] is None
    assert G.graph["anomalies"]["dangling_links"] == [(*key(2, 1), 0)]


def test_an_invalid_link_is_counted_never_drawn() -> None:
    # trace 2: [consumer] ──link──> 00000000/0000 (all zero, kept for its attributes)
    bad = link((ZERO_TRACE, ZERO_SPAN), {"messaging.message.id": "m-1"}, invalid=True)
    G = build_graph([span(2, 1, "consumer", links=[bad])])
    assert G.number_of_edges() == 0
    assert G.number_of_nodes() == 1
    anomalies = G.graph["anomalies"]
    assert anomalies["invalid_links"] == [(*key(2, 1), 0)]
    assert anomalies["counts"]["invalid_links"] == 1
    assert anomalies["counts"]["dangling_links"] == 0


def test_it_reports_truncated_links() -> None:
    # trace 9: [batch.process] links 2 sources, dropped 126 more
    #          [other]          link attribute batch.links_truncated=true
    spans = [
        span(1, 1, "src"),
        span(
            9,
            1,
            "batch.process",
            links=[link(key(1, 1)), link(key(2, 1))],
            dropped_links=126,
        ),
        span(9, 2, "other", links=[link(key(1, 1), {"batch.links_truncated": True})]),
    ]
    G = build_graph(spans)
    anomalies = G.graph["anomalies"]
    assert anomalies["truncated_links"] == [(*key(9, 1), 126), (*key(9, 2), 0)]
    assert anomalies["counts"]["dropped_links"] == 126


def test_extra_incoming_links_get_a_ghost_holder_and_are_not_doubled() -> None:
    # trace 1: [publish] ──link──> trace 2 [consume] (loaded)
    #                    ──link──> trace 3 [late]    (not loaded: from the reverse index)
    publish = span(1, 1, "publish")
    consume = span(2, 1, "consume", links=[link(publish)])
    incoming = [
        consume.links[0],  # already held by a loaded span
        LinkRecord(*key(3, 1), 0, *key(1, 1), link_type="async_trigger"),
    ]
    G = build_graph([publish, consume], links=incoming)
    assert len(link_edges(G)) == 2
    assert G.nodes[key(3, 1)]["ghost"] is True
    assert G.has_edge(key(1, 1), key(3, 1))


def test_it_reads_link_type_from_attributes_when_the_field_is_unset() -> None:
    # trace 2: [step] ──link(workflow.previous_step)──> trace 1 [prev]
    rec = LinkRecord(*key(2, 1), 0, *key(1, 1), attributes={"workflow.previous_step": "a"})
    G = build_graph([span(1, 1, "prev"), span(2, 1, "step")], links=[rec])
    assert link_edges(G)[0][3]["link_type"] == "workflow_predecessor"


def test_graph_memory_stays_under_budget_per_span() -> None:
    # 200 traces of 50 spans (a root and a chain of children), 1 link per trace.
    spans = []
    for t in range(1, 201):
        for s in range(1, 51):
            links = [link(key(t - 1, 1))] if s == 1 and t > 1 else []
            spans.append(span(t, s, f"op{s % 7}", parent=s - 1 if s > 1 else None, links=links))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    G = build_graph(spans)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert G.number_of_nodes() == 10_000
    assert used / len(spans) <= 1536  # DESIGN §9: <= 1.5 KB per span


def test_graphs_and_patterns_import_no_django() -> None:
    code = (
        "import sys, tracegraph.graphs, tracegraph.patterns; "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_child_edges_share_one_read_only_mapping_that_copies_and_pickles() -> None:
    import copy
    import pickle

    import pytest

    # trace 1: a -> b, a -> c
    G = build_graph([span(1, 1), span(1, 2, parent=1), span(1, 3, parent=1)])
    shared = [d for _, _, d in G.edges(data=True)]
    assert len(shared) == 2 and shared[0] is shared[1] == {"kind": "child"}
    with pytest.raises(TypeError):
        G.edges[key(1, 1), key(1, 2), 0]["colour"] = "red"
    for H in (G.copy(), G.to_undirected()):  # networkx's copies: a dict per edge
        copied = [d for _, _, d in H.edges(data=True)]
        assert copied == [{"kind": "child"}] * 2 and copied[0] is not copied[1]
        copied[0]["colour"] = "red"
    assert shared[0] == {"kind": "child"}
    for H in (copy.deepcopy(G), pickle.loads(pickle.dumps(G))):
        data = [d for _, _, d in H.edges(data=True)]
        assert data == [{"kind": "child"}] * 2  # still one shared, read-only dict
        with pytest.raises(TypeError):
            data[0]["colour"] = "red"


def test_child_pairs_share_one_read_only_keydict_that_a_link_between_them_replaces() -> None:
    import pytest

    from tracegraph.graphs.build import CHILD_EDGES

    # trace 1: a -> b, a -> c; c also links its own parent a (a -> c: child and link)
    G = build_graph(
        [span(1, 1), span(1, 2, parent=1), span(1, 3, parent=1, start=20, links=[link(key(1, 1))])]
    )
    assert G._succ[key(1, 1)][key(1, 2)] is CHILD_EDGES
    assert G._pred[key(1, 2)][key(1, 1)] is CHILD_EDGES
    both = G._succ[key(1, 1)][key(1, 3)]
    assert both is not CHILD_EDGES and both is G._pred[key(1, 3)][key(1, 1)]
    assert [d["kind"] for d in both.values()] == ["child", "link"]
    assert sorted(child_edges(G)) == [(key(1, 1), key(1, 2)), (key(1, 1), key(1, 3))]
    assert [(u, v) for u, v, _, _ in link_edges(G)] == [(key(1, 1), key(1, 3))]
    with pytest.raises(TypeError):  # removing a shared child edge would remove them all
        G.remove_edge(key(1, 1), key(1, 2))
    G.remove_edge(key(1, 1), key(1, 3), key=1)  # a link edge: its pair's own dict
    H = G.copy()  # networkx's copy: dicts of its own, free to change
    H.remove_edge(key(1, 1), key(1, 2))
    assert sorted(child_edges(H)) == [(key(1, 1), key(1, 3))]
    assert sorted(child_edges(G)) == [(key(1, 1), key(1, 2)), (key(1, 1), key(1, 3))]
