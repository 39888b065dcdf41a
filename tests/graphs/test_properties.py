"""Properties of build_graph and expand on random forests of linked traces.

A forest here: up to 6 traces of up to 8 spans; parents point at earlier
spans, at missing spans (orphans) or at later ones (possible cycles); some
spans are sent twice; links point at any span, at spans never loaded
(ghosts), or are invalid (all zeros).
"""

from __future__ import annotations

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.graphs.builders import ZERO_SPAN, ZERO_TRACE, key, link, span, tid
from tracegraph.domain.records import SpanRecord
from tracegraph.graphs import MemorySource, build_graph, expand
from tracegraph.graphs.build import _cycle_cuts, child_edges, link_edges

MAX_TRACES = 6


@st.composite
def forests(draw: st.DrawFn) -> list[SpanRecord]:
    n_traces = draw(st.integers(1, MAX_TRACES))
    sizes = [draw(st.integers(1, 8)) for _ in range(n_traces)]
    targets = [key(t + 1, s + 1) for t, n in enumerate(sizes) for s in range(n)]
    spans: list[SpanRecord] = []
    for t, n in enumerate(sizes, start=1):
        for s in range(1, n + 1):
            parent = draw(
                st.one_of(
                    st.none(),
                    st.integers(1, n),  # earlier, later (cycle) or itself
                    st.just(99),  # never loaded: orphan
                )
            )
            links = []
            for _ in range(draw(st.integers(0, 3))):
                choice = draw(st.integers(0, 9))
                if choice == 0:
                    links.append(link((ZERO_TRACE, ZERO_SPAN), {"a": 1}, invalid=True))
                elif choice == 1:
                    links.append(link(key(draw(st.integers(1, MAX_TRACES + 2)), 77)))  # ghost
                else:
                    links.append(link(draw(st.sampled_from(targets))))
            made = span(t, s, f"op{s}", parent=parent, start=s, links=links)
            spans.append(made)
            if draw(st.integers(0, 9)) == 0:
                spans.append(span(t, s, "duplicate", parent=None))
    return spans


def first_of_each(spans: list[SpanRecord]) -> dict[tuple[str, str], SpanRecord]:
    out: dict[tuple[str, str], SpanRecord] = {}
    for s in spans:
        out.setdefault(s.key, s)
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(forests())
def test_child_edges_are_spans_with_a_loaded_parent_after_repair(spans: list[SpanRecord]) -> None:
    G = build_graph(spans)
    kept = first_of_each(spans)
    with_parent = sum(
        1 for s in kept.values() if s.parent_span_id and (s.trace_id, s.parent_span_id) in kept
    )
    cycles = G.graph["anomalies"]["parent_cycles"]
    assert len(child_edges(G)) == with_parent - len(cycles)
    tree = nx.DiGraph(child_edges(G))
    assert nx.is_forest(tree.to_undirected()) if tree else True
    assert all(d <= 1 for _, d in tree.in_degree())
    assert G.graph["anomalies"]["counts"]["duplicate_spans"] == len(spans) - len(kept)


@settings(max_examples=80, deadline=None)
@given(forests())
def test_link_edges_are_the_valid_links(spans: list[SpanRecord]) -> None:
    G = build_graph(spans)
    links = [lk for s in first_of_each(spans).values() for lk in s.links]
    valid = [lk for lk in links if not lk.invalid]
    assert len(link_edges(G)) == len(valid)
    assert G.graph["anomalies"]["counts"]["invalid_links"] == len(links) - len(valid)
    ghosts = [n for n, d in G.nodes(data=True) if d["ghost"]]
    assert all(d["kind"] == "link" for g in ghosts for _, _, d in G.out_edges(g, data=True))


@settings(max_examples=60, deadline=None)
@given(forests(), st.integers(1, MAX_TRACES), st.sampled_from(["both", "backward", "forward"]))
def test_expansion_grows_monotonically_with_depth(
    spans: list[SpanRecord], start: int, direction: str
) -> None:
    src = MemorySource(spans)
    previous_traces: set[str] = set()
    previous_nodes: set[tuple[str, str]] = set()
    for depth in range(5):
        hood = expand(src, tid(start), depth=depth, direction=direction)  # type: ignore[arg-type]
        traces, nodes = set(hood.trace_ids), set(hood.graph)
        assert previous_traces <= traces
        assert previous_nodes <= nodes
        assert not hood.truncated
        assert all(d <= depth for _, d in hood.traces)
        previous_traces, previous_nodes = traces, nodes


@settings(max_examples=80, deadline=None)
@given(
    forests(),
    st.integers(1, MAX_TRACES),
    st.integers(0, 3),
    st.integers(1, 4),
    st.integers(1, 30),
)
def test_truncated_exactly_when_a_bound_binds(
    spans: list[SpanRecord], start: int, depth: int, max_traces: int, max_spans: int
) -> None:
    src = MemorySource(spans)
    free = expand(src, tid(start), depth=depth, max_traces=10**6, max_spans=10**9)
    bounded = expand(src, tid(start), depth=depth, max_traces=max_traces, max_spans=max_spans)
    binds = set(bounded.trace_ids) != set(free.trace_ids)
    assert bounded.truncated is binds
    assert set(bounded.trace_ids) <= set(free.trace_ids)
    assert len(bounded.traces) <= max_traces
    assert free.truncated is False


@settings(max_examples=60, deadline=None)
@given(forests(), st.integers(1, MAX_TRACES + 2), st.integers(1, MAX_TRACES + 2))
def test_forward_from_a_reaches_b_iff_backward_from_b_reaches_a(
    spans: list[SpanRecord], a: int, b: int
) -> None:
    src = MemorySource(spans)
    forward = expand(src, tid(a), depth=20, direction="forward")
    backward = expand(src, tid(b), depth=20, direction="backward")
    assert (tid(b) in forward.trace_ids) is (tid(a) in backward.trace_ids)


@settings(max_examples=80, deadline=None)
@given(forests())
def test_walking_only_from_children_that_start_early_finds_every_parent_cycle(
    spans: list[SpanRecord],
) -> None:
    kept = first_of_each(spans)
    parent_of = {
        k: (k[0], s.parent_span_id)
        for k, s in kept.items()
        if s.parent_span_id and (k[0], s.parent_span_id) in kept
    }
    early = [k for k, p in parent_of.items() if kept[k].start <= kept[p].start]
    nodes = {k: {"start": s.start} for k, s in kept.items()}
    everything = _cycle_cuts(parent_of, nodes)
    assert sorted(_cycle_cuts(parent_of, nodes, early)) == sorted(everything)
    assert sorted(build_graph(spans).graph["anomalies"]["parent_cycles"]) == sorted(everything)
