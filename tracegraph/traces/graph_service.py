"""The cross-trace neighbourhood of a trace, ready for the API and the pages.

Glue between a trace source (the local store or a remote backend) and the
pure graph engine: expand, filter link types, pick the level, detect
patterns.

A remote backend (Jaeger, Tempo) is read through
:class:`~tracegraph.traces.remote.CachedSource`: cached, fetched in
parallel, and partial rather than failed when some traces cannot be fetched
(``stats.unavailable`` and ``stats.banner`` say which and why).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx

from tracegraph.backends import get_backend
from tracegraph.backends.local import LocalBackend
from tracegraph.celery import app
from tracegraph.domain.gc import gc_paused
from tracegraph.graphs.build import NodeKey, link_edges
from tracegraph.graphs.expand import Neighbourhood, TraceSource, expand
from tracegraph.graphs.levels import service_level, trace_level
from tracegraph.graphs.metrics import link_type_counts
from tracegraph.patterns import Finding, detect_patterns
from tracegraph.traces.jobs import JobDict, job_create, job_get, job_update
from tracegraph.traces.remote import (
    CachedSource,
    backend_where,
    incoming_message,
    is_remote,
    neighbourhood_cached,
    unavailable_banner,
)
from tracegraph.traces.selectors import StoreSource
from tracegraph.traces.tasks import graph_prefetch

__all__ = ["GraphParams", "GraphView", "graph_prefetch_start", "graph_source", "trace_graph"]

Direction = Literal["both", "backward", "forward"]
Level = Literal["span", "trace", "service"]


def graph_source() -> TraceSource:
    """Where graphs read traces from: the configured backend (DESIGN §7).

    The local store through a fresh :class:`~tracegraph.traces.selectors.StoreSource`
    (it remembers the links it read during one expansion), the otlp-file
    index as is, a remote backend through a
    :class:`~tracegraph.traces.remote.CachedSource`.
    """
    backend = get_backend()
    if isinstance(backend, LocalBackend):
        return StoreSource()
    return CachedSource(backend) if is_remote(backend) else backend


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


@gc_paused()  # reading, building and detecting allocate ~150,000 containers that all live
def trace_graph(
    *, trace_id: str, params: GraphParams, source: TraceSource | None = None
) -> GraphView | None:
    """The neighbourhood of ``trace_id``; ``None`` if the trace is not found."""
    started = time.perf_counter()
    source = source or graph_source()
    hood = expand(
        source,
        trace_id,
        depth=params.depth,
        direction=params.direction,
        max_traces=params.max_traces,
        max_spans=params.max_spans,
    )
    errors = getattr(source, "errors", {})
    if trace_id in errors:
        raise errors[trace_id]  # the start trace itself: nothing to draw (503/502)
    if trace_id in hood.missing or not hood.traces:
        return None
    G = hood.graph
    if params.types:
        _keep_types(G, params.types)
    links = link_edges(G)
    patterns = detect_patterns(G, links=links)
    level: nx.Graph
    if params.level == "trace":
        level = trace_level(G)
    elif params.level == "service":
        level = service_level(G)
    else:
        level = G
    anomalies = G.graph.get("anomalies", {})
    type_counts = link_type_counts(G, links=links)
    ghosts = sum(1 for d in G._node.values() if d.get("ghost"))
    stats = {
        "traces": len(hood.traces),
        "spans": G.number_of_nodes() - ghosts,
        "ghosts": ghosts,
        "links": sum(type_counts.values()),
        "link_types": type_counts,
        "anomalies": anomalies.get("counts", {}),
        "incoming_known": hood.incoming_known,
        # Why forward expansion may miss links ("" when it does not).
        "incoming_message": incoming_message(source),
        # Traces that could not be fetched (remote backends): trace id -> why.
        "unavailable": dict(getattr(source, "failed", {})),
        "banner": (
            unavailable_banner(source, len(hood.traces)) if isinstance(source, CachedSource) else ""
        ),
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


def graph_prefetch_start(*, trace_id: str, params: GraphParams) -> JobDict | None:
    """Queue ``traces.graph_prefetch`` for a remote neighbourhood not yet in the cache.

    Returns the job (to poll at ``/api/jobs/<id>``), or ``None`` when there is
    nothing to wait for: the backend is not remote, tasks run inline (the
    graph request fetches right away), or every trace is cached already.
    Raises kombu's ``OperationalError`` when the broker is down.
    """
    backend = get_backend()
    if not is_remote(backend) or app.conf.task_always_eager:
        return None
    bounds = {
        "depth": params.depth,
        "direction": params.direction,
        "max_traces": params.max_traces,
        "max_spans": params.max_spans,
    }
    if neighbourhood_cached(backend=backend, trace_id=trace_id, **bounds):  # type: ignore[arg-type]
        return None
    job = job_create(
        kind="graph", message=f"waiting for a worker to fetch from {backend_where(backend)}"
    )
    job = job_update(job_id=job["id"], done=0, total=0)
    graph_prefetch.delay(job["id"], trace_id, **bounds)
    return job_get(job_id=job["id"]) or job
