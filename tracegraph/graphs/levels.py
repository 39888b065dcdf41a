"""Views of the span graph at the trace level and the service level.

A batch that links 500 producer traces is unreadable as 500 arrows; at the
trace level it is one node per trace and one weighted edge per pair of linked
traces. Both functions return a new :class:`networkx.DiGraph` and leave the
span graph alone.

Trace level, node attributes: ``trace_id, span_count, error_count,
root_name, root_service, start, end, ghost`` (a ghost trace has only ghost
spans: link targets that were not loaded). Edge attributes (cause trace ->
effect trace): ``kind="link", count, link_types`` (a ``{type: count}`` dict)
and ``delay_p50, delay_p95, delay_max`` (ns, ``None`` if no delay is known).
Links between two spans of the same trace become a self-loop.

Service level, node attributes: ``service, span_count, error_count,
trace_count``. Edge attributes: ``calls`` (parent -> child edges that cross
services), ``links`` (link edges, cause service -> effect service,
self-loops included), ``link_types``, ``delay_p50, delay_p95, delay_max``.
Ghost spans have no service and are left out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import networkx as nx

from tracegraph.graphs.build import is_error, split_edges
from tracegraph.graphs.metrics import delay_stats

__all__ = ["service_level", "trace_level"]


def _edge_stats(delays: list[int]) -> dict[str, int | None]:
    stats = delay_stats(delays)
    return {"delay_p50": stats["p50"], "delay_p95": stats["p95"], "delay_max": stats["max"]}


def trace_level(G: nx.MultiDiGraph) -> nx.DiGraph:
    """Return one node per trace, link edges aggregated per pair of traces.

    Examples
    --------
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> from tracegraph.graphs.build import build_graph
    >>> t1, t2 = "1" * 32, "2" * 32
    >>> spans = [SpanRecord(t1, f"{i:016x}", "produce", 0, 10) for i in (1, 2)]
    >>> links = tuple(LinkRecord(t2, "f" * 16, i, t1, f"{i + 1:016x}") for i in (0, 1))
    >>> spans.append(SpanRecord(t2, "f" * 16, "batch", 30, 40, links=links))
    >>> T = trace_level(build_graph(spans))
    >>> T.nodes[t1]["span_count"], T.edges[t1, t2]["count"], T.edges[t1, t2]["delay_p50"]
    (2, 2, 20)
    """
    T = nx.DiGraph()
    children, links = split_edges(G)
    has_parent = {v for _, v in children}
    info: dict[str, dict[str, Any]] = {}
    for n, data in G.nodes(data=True):
        entry = info.get(data["trace_id"])
        if entry is None:
            entry = info[data["trace_id"]] = {
                "trace_id": data["trace_id"],
                "span_count": 0,
                "error_count": 0,
                "root_name": None,
                "root_service": None,
                "start": None,
                "end": None,
                "ghost": True,
                "_root": None,
            }
        if data["ghost"]:
            continue
        entry["ghost"] = False
        entry["span_count"] += 1
        entry["error_count"] += is_error(data)
        start, end = data["start"], data["end"]
        if entry["start"] is None or start < entry["start"]:
            entry["start"] = start
        if entry["end"] is None or end > entry["end"]:
            entry["end"] = end
        # The root: the earliest-starting span without a parent edge.
        if n not in has_parent and (entry["_root"] is None or (start, n) < entry["_root"]):
            entry["_root"] = (start, n)
            entry["root_name"], entry["root_service"] = data["name"], data["service"]
    for trace_id, entry in info.items():
        del entry["_root"]
        T.add_node(trace_id, **entry)
    counts: Counter[tuple[str, str]] = Counter()
    types: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    delays: dict[tuple[str, str], list[int]] = defaultdict(list)
    for u, v, _, data in links:
        pair = (u[0], v[0])
        counts[pair] += 1
        types[pair][data.get("link_type", "link")] += 1
        if data.get("delay") is not None:
            delays[pair].append(data["delay"])
    for pair, count in counts.items():
        T.add_edge(
            *pair,
            kind="link",
            count=count,
            link_types=dict(sorted(types[pair].items())),
            **_edge_stats(delays[pair]),
        )
    return T


def service_level(G: nx.MultiDiGraph) -> nx.DiGraph:
    """Return one node per service; cross-service calls and links aggregated.

    Examples
    --------
    >>> from tracegraph.domain.records import SpanRecord
    >>> from tracegraph.graphs.build import build_graph
    >>> t = "1" * 32
    >>> spans = [
    ...     SpanRecord(t, "a" * 16, "GET /", 0, 10, service="web"),
    ...     SpanRecord(t, "b" * 16, "SELECT", 1, 5, parent_span_id="a" * 16, service="db"),
    ... ]
    >>> S = service_level(build_graph(spans))
    >>> S.edges["web", "db"]["calls"], S.edges["web", "db"]["links"]
    (1, 0)
    """
    S = nx.DiGraph()
    stats: dict[str, dict[str, Any]] = {}
    traces: dict[str, set[str]] = defaultdict(set)
    for _, data in G.nodes(data=True):
        if data["ghost"]:
            continue
        service = data["service"]
        entry = stats.setdefault(service, {"span_count": 0, "error_count": 0})
        entry["span_count"] += 1
        entry["error_count"] += is_error(data)
        traces[service].add(data["trace_id"])
    for service, entry in stats.items():
        S.add_node(service, service=service, trace_count=len(traces[service]), **entry)
    calls: Counter[tuple[str, str]] = Counter()
    links: Counter[tuple[str, str]] = Counter()
    types: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    delays: dict[tuple[str, str], list[int]] = defaultdict(list)
    nodes = dict(G.nodes(data=True))
    children, link_list = split_edges(G)
    for u, v in children:
        pair = (nodes[u]["service"], nodes[v]["service"])
        if pair[0] != pair[1]:
            calls[pair] += 1
    for u, v, _, data in link_list:
        du, dv = nodes[u], nodes[v]
        if du["ghost"] or dv["ghost"]:
            continue
        pair = (du["service"], dv["service"])
        links[pair] += 1
        types[pair][data.get("link_type", "link")] += 1
        if data.get("delay") is not None:
            delays[pair].append(data["delay"])
    for pair in sorted(set(calls) | set(links)):
        S.add_edge(
            *pair,
            calls=calls[pair],
            links=links[pair],
            link_types=dict(sorted(types[pair].items())),
            **_edge_stats(delays[pair]),
        )
    return S
