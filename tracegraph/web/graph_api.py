"""Graph, journey and link-statistics endpoints (DESIGN §3-§5)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from kombu.exceptions import OperationalError as KombuOperationalError

from tracegraph.domain import LINK_TYPES
from tracegraph.domain.gc import gc_paused
from tracegraph.graphs.export import (
    level_edges,
    level_nodes,
    span_id,
    span_payload,
    to_graphml,
    to_node_link,
)
from tracegraph.graphs.journey import journey
from tracegraph.traces import selectors
from tracegraph.traces.graph_service import (
    GraphParams,
    GraphView,
    graph_prefetch_start,
    trace_graph,
)
from tracegraph.web.errors import ApiError, api, json_response
from tracegraph.web.params import choice_param, int_param, span_id_param, trace_id_param

__all__ = [
    "graph",
    "graph_params",
    "graph_payload",
    "graph_summary",
    "journey_view",
    "link_stats",
]

KNOWN_TYPES = frozenset((*LINK_TYPES, "link"))


def graph_params(query: Any) -> GraphParams:
    """Validated graph parameters from a query string; 400 naming a bad one."""
    raw_types = [t.strip() for t in query.get("types", "").split(",") if t.strip()]
    unknown = [t for t in raw_types if t not in KNOWN_TYPES]
    if unknown:
        raise ApiError(
            400,
            f"parameter types: unknown link type {unknown[0][:40]!r}; "
            f"known: {', '.join(sorted(KNOWN_TYPES))}",
        )
    return GraphParams(
        depth=int_param(query, "depth", default=1, low=0, high=10),
        direction=choice_param(  # type: ignore[arg-type]
            query, "direction", choices=("both", "backward", "forward"), default="both"
        ),
        level=choice_param(query, "level", choices=("span", "trace", "service"), default="span"),  # type: ignore[arg-type]
        max_traces=int_param(query, "max_traces", default=50, low=1, high=1000),
        max_spans=int_param(query, "max_spans", default=20_000, low=1, high=500_000),
        types=frozenset(raw_types),
    )


def graph_payload(view: GraphView, params: GraphParams) -> dict[str, Any]:
    """``{nodes, edges, patterns, truncated, stats}`` plus where the expansion was cut.

    ``banner`` is one line for the page when traces could not be fetched from
    a remote backend ("" otherwise); ``stats.unavailable`` maps each of them
    to the reason, ``stats.incoming_known``/``stats.incoming_message`` say
    whether forward links could be looked up.
    """
    if params.level == "span":
        nodes, edges = span_payload(view.graph)  # type: ignore[arg-type]
    else:
        nodes, edges = level_nodes(view.graph), level_edges(view.graph)
    return {"level": params.level, "nodes": nodes, "edges": edges, **graph_summary(view, params)}


def graph_summary(view: GraphView, params: GraphParams) -> dict[str, Any]:
    """:func:`graph_payload` without the nodes and edges."""
    hood = view.hood
    return {
        "level": params.level,
        "patterns": [f.as_dict(span_id) for f in view.patterns],
        "truncated": hood.truncated,
        "cut": [c for c in hood.cut if c["reason"] != "depth"],
        "frontier": hood.frontier,
        "traces": [{"trace_id": t, "depth": d} for t, d in hood.traces],
        "missing": hood.missing,
        "banner": view.stats.get("banner", ""),
        "stats": {**view.stats, "elapsed_ms": round(view.elapsed_ms, 1)},
    }


@api
def graph(request: HttpRequest, trace_id: str) -> HttpResponse:
    trace_id = trace_id_param(trace_id)
    params = graph_params(request.GET)
    fmt = choice_param(request.GET, "format", choices=("api", "json", "graphml"), default="api")
    if choice_param(request.GET, "prefetch", choices=("0", "1"), default="0") == "1":
        # A remote neighbourhood not in the cache yet: 202 and a job to poll at
        # /api/jobs/<id>, then ask again without prefetch. Otherwise the graph.
        try:
            job = graph_prefetch_start(trace_id=trace_id, params=params)
        except KombuOperationalError as exc:
            raise ApiError(
                503, f"the job queue (Redis) is unreachable: {exc}", headers={"Retry-After": "5"}
            ) from None
        if job is not None:
            return json_response({"job": job}, status=202)
    with gc_paused():  # a 20,000-span graph and its answer: ~200,000 live containers
        return _graph_response(trace_id, params, fmt)


def _graph_response(trace_id: str, params: GraphParams, fmt: str) -> HttpResponse:
    view = trace_graph(trace_id=trace_id, params=params)
    if view is None:
        raise ApiError(404, f"trace {trace_id} is not stored")
    if fmt == "graphml":
        response = HttpResponse(to_graphml(view.graph), content_type="application/graphml+xml")
        response["Content-Disposition"] = f'attachment; filename="tracegraph-{trace_id}.graphml"'
        return response
    if fmt == "json":
        return json_response(
            to_node_link(view.graph),
            Content_Disposition=f'attachment; filename="tracegraph-{trace_id}.json"',
        )
    return json_response(graph_payload(view, params))


@api
def journey_view(request: HttpRequest, trace_id: str, span_id_: str) -> HttpResponse:
    trace_id = trace_id_param(trace_id)
    span = span_id_param(span_id_)
    params = GraphParams(
        depth=int_param(request.GET, "depth", default=6, low=0, high=20),
        max_traces=int_param(request.GET, "max_traces", default=100, low=1, high=1000),
    )
    view = trace_graph(trace_id=trace_id, params=params)
    if view is None:
        raise ApiError(404, f"trace {trace_id} is not stored")
    node = (trace_id, span)
    if node not in view.span_graph or view.span_graph.nodes[node].get("ghost"):
        raise ApiError(404, f"span {trace_id}/{span} is not stored")
    j = journey(view.span_graph, node)
    return json_response(
        {
            "focus": j.focus,
            "latency": j.latency,
            "busy": j.busy,
            "waiting": j.waiting,
            "traces": j.traces,
            "steps": [
                {
                    "id": span_id(s.node),
                    "trace_id": s.trace_id,
                    "span_id": s.node[1],
                    "name": s.name,
                    "service": s.service,
                    "start": s.start,
                    "end": s.end,
                    "via": s.via,
                    "link_type": s.link_type,
                }
                for s in j.steps
            ],
            "gaps": [
                {
                    "cause": span_id(g.cause),
                    "effect": span_id(g.effect),
                    "link_type": g.link_type,
                    "kind": g.kind,
                    "duration": g.duration,
                }
                for g in j.gaps
            ],
            "dangling": [span_id(n) for n in j.dangling],
            "truncated": view.hood.truncated,
        }
    )


@api
def link_stats(request: HttpRequest) -> dict[str, Any]:
    limit = int_param(request.GET, "limit", default=100_000, low=1, high=1_000_000)
    return selectors.link_statistics(limit=limit)
