"""Positions: bands per trace, waterfall rows, generations (no database)."""

from __future__ import annotations

from tracegraph.render.layout import dag_layout, edge_pairs, generations, timeline_layout


def n(trace, span, *, parent="", start=0, end=None, ghost=False):
    return {
        "id": f"{trace}:{span}",
        "trace_id": trace,
        "span_id": span,
        "parent": parent,
        "start": None if ghost else start,
        "end": None if ghost else (end if end is not None else start + 10),
        "ghost": ghost,
    }


def test_it_gives_each_trace_a_band_in_start_order():
    # producer P (t=0) --link--> consumer C (t=100); C's band comes second.
    #   band p: P ─┐
    #   band c:    └─> C
    nodes = [n("c", "C", start=100_000_000), n("p", "P", start=0)]
    edges = [{"source": "p:P", "target": "c:C", "kind": "link"}]
    L = timeline_layout(nodes, edge_pairs(nodes, edges))
    assert [b.key for b in L.bands] == ["p", "c"]
    assert L.y[1] < L.y[0]
    assert L.bands[1].y0 - L.bands[0].y1 == 2  # one empty row between bands
    assert L.x0[0] == 100.0  # ms since the earliest start


def test_rows_follow_the_waterfall_depth_first_by_start():
    # root ── a (t=5) ── a1 (t=6)
    #      └─ b (t=1)
    nodes = [
        n("t", "root", start=0),
        n("t", "a", parent="root", start=5),
        n("t", "a1", parent="a", start=6),
        n("t", "b", parent="root", start=1),
    ]
    L = timeline_layout(nodes, [])
    order = [nodes[i]["span_id"] for i in L.order]
    assert order == ["root", "b", "a", "a1"]
    assert [L.y[i] for i in L.order] == [0, 1, 2, 3]


def test_a_parent_loop_is_drawn_not_dropped():
    nodes = [n("t", "a", parent="b", start=0), n("t", "b", parent="a", start=1)]
    L = timeline_layout(nodes, [])
    assert sorted(L.order) == [0, 1]


def test_a_ghost_sits_at_the_time_of_its_linked_span_in_its_own_band():
    nodes = [n("t", "C", start=50_000_000), n("gone", "G", ghost=True)]
    L = timeline_layout(
        nodes, edge_pairs(nodes, [{"source": "gone:G", "target": "t:C", "kind": "link"}])
    )
    assert L.x0[1] == L.x0[0] == 0.0
    assert [(b.key, b.ghost) for b in L.bands] == [("t", False), ("gone", True)]


def test_generations_survive_cycles():
    assert generations(3, [(0, 1), (1, 2)]) == [0, 1, 2]
    gen = generations(3, [(0, 1), (1, 0), (2, 0)])
    assert gen[2] == 0 and gen[0] == gen[1] == 1


def test_dag_layers_by_generation_across_traces():
    # P (trace p) --link--> C (trace c) --child--> D
    nodes = [n("p", "P"), n("c", "C"), n("c", "D", parent="C")]
    edges = [
        {"source": "p:P", "target": "c:C", "kind": "link"},
        {"source": "c:C", "target": "c:D", "kind": "child"},
    ]
    assert dag_layout(nodes, edge_pairs(nodes, edges)).x0 == [0.0, 1.0, 2.0]


def test_links_closing_a_cycle_back_in_time_do_not_flatten_the_dag():
    # The batch B (trace b, starts at 0) links items I (trace i, start 50) that
    # were themselves triggered by B's child S: B -> S -> I -> B is a cycle.
    nodes = [n("b", "B", start=0, end=100), n("b", "S", parent="B", start=10),
             n("i", "I", start=50)]  # fmt: skip
    edges = [
        {"source": "b:B", "target": "b:S", "kind": "child"},
        {"source": "b:S", "target": "i:I", "kind": "link"},
        {"source": "i:I", "target": "b:B", "kind": "link"},  # effect starts before its cause
    ]
    assert dag_layout(nodes, edge_pairs(nodes, edges)).x0 == [0.0, 1.0, 2.0]
    # Without a cycle, an edge back in time stays and sets the layers.
    assert dag_layout(nodes, edge_pairs(nodes, edges[1:])).x0 == [2.0, 0.0, 1.0]
