"""The cross-trace neighbourhood of a trace, ready for the API and the pages.

Glue between a trace source (the local store or a remote backend) and the
pure graph engine: expand, filter link types, pick the level, detect
patterns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx

from tracegraph.backends import get_backend
from tracegraph.graphs.build import NodeKey
from tracegraph.graphs.expand import Neighbourhood, TraceSource, expand
from tracegraph.graphs.levels import service_level, trace_level
from tracegraph.graphs.metrics import link_type_counts
from tracegraph.patterns import Finding, detect_patterns

__all__ = ["GraphParams", "GraphView", "graph_source", "trace_graph"]

Direction = Literal["both", "backward", "forward"]
Level = Literal["span", "trace", "service"]


def graph_source() -> TraceSource:
    """Where graphs read traces from: the configured backend (DESIGN §7)."""
    return get_backend()


@dataclass(frozen=True, slots=True)
class GraphParams:
    depth: int = 1
    direction: Direction = "both"
    level: Level = "span"
    max_traces: int = 50
    max_spans: int = 20_000
    types: frozenset[str] = frozenset()  # empty = every link type


@dataclass(slots=True)
class GraphView:
    hood: Neighbourhood
    graph: nx.Graph  # the requested level
    span_graph: nx.MultiDiGraph
    patterns: list[Finding]
    elapsed_ms: float
    stats: dict[str, Any] = field(default_factory=dict)


def _keep_types(G: nx.MultiDiGraph, types: frozenset[str]) -> None:
    """Drop link edges of other types, then ghosts left with no edge."""
    drop = [
        (u, v, k)
        for u, v, k, d in G.edges(keys=True, data=True)
        if d["kind"] == "link" and d.get("link_type", "link") not in types
    ]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n, d in G.nodes(data=True) if d.get("ghost") and not G.degree(n)])


def trace_graph(
    *, trace_id: str, params: GraphParams, source: TraceSource | None = None
) -> GraphView | None:
    """The neighbourhood of ``trace_id``; ``None`` if the trace is not found."""
    started = time.perf_counter()
    hood = expand(
        source or graph_source(),
        trace_id,
        depth=params.depth,
        direction=params.direction,
        max_traces=params.max_traces,
        max_spans=params.max_spans,
    )
    if trace_id in hood.missing or not hood.traces:
        return None
    G = hood.graph
    if params.types:
        _keep_types(G, params.types)
    patterns = detect_patterns(G)
    level: nx.Graph
    if params.level == "trace":
        level = trace_level(G)
    elif params.level == "service":
        level = service_level(G)
    else:
        level = G
    anomalies = G.graph.get("anomalies", {})
    stats = {
        "traces": len(hood.traces),
        "spans": sum(1 for _, d in G.nodes(data=True) if not d.get("ghost")),
        "ghosts": sum(1 for _, d in G.nodes(data=True) if d.get("ghost")),
        "links": sum(link_type_counts(G).values()),
        "link_types": link_type_counts(G),
        "anomalies": anomalies.get("counts", {}),
        "incoming_known": hood.incoming_known,
    }
    return GraphView(
        hood=hood,
        graph=level,
        span_graph=G,
        patterns=patterns,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        stats=stats,
    )


def node_of(view: GraphView, trace_id: str, span_id: str) -> NodeKey | None:
    key = (trace_id, span_id)
    return key if key in view.span_graph else None
