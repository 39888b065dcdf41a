"""The graph as JSON for the API and the page, and as downloadable files.

Node ids in every export are strings: ``"<trace_id>:<span_id>"`` for spans,
the trace id for traces, the service name for services. Values that GraphML
cannot hold (``None``, dicts, lists) are dropped or written as JSON text.

>>> from tracegraph.domain import SpanRecord
>>> from tracegraph.graphs.build import build_graph
>>> G = build_graph([SpanRecord("a" * 32, "1" * 16, "GET /", 0, 10)])
>>> [(n["id"], n["name"]) for n in span_nodes(G)]
[('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1111111111111111', 'GET /')]
>>> b"<graphml" in to_graphml(G)
True
"""

from __future__ import annotations

import io
from collections.abc import Hashable
from typing import Any

import networkx as nx
import orjson

from tracegraph.graphs.build import CHILD_EDGES, span_id

__all__ = [
    "level_edges",
    "level_nodes",
    "span_edges",
    "span_elements",
    "span_id",
    "span_nodes",
    "span_payload",
    "to_graphml",
    "to_node_link",
]


def span_nodes(G: nx.MultiDiGraph) -> list[dict[str, Any]]:
    """Span nodes as dicts: the graph's own node dicts, to be read, not changed.

    :func:`~tracegraph.graphs.build.build_graph` gives every node, ghost or
    not, the same fixed attributes, ``id`` among them, which is all the API
    shows of a span. Handing them over as they are, not copied with an
    ``id`` added, takes a tenth off building and sending a 20,000-span answer.
    """
    return list(G._node.values())


def span_payload(G: nx.MultiDiGraph) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(span_nodes(G), span_edges(G))``."""
    return span_nodes(G), span_edges(G)


def span_edges(G: nx.MultiDiGraph) -> list[dict[str, Any]]:
    """Child and link edges (link: cause -> effect) with their attributes, by node ``id``."""
    # Every node is named twice (as source, as target): one pass over the node
    # dicts first, then lookups in this compact dict (a quarter faster).
    ids = {n: d["id"] for n, d in G._node.items()}
    out: list[dict[str, Any]] = []
    append = out.append
    # networkx's own dicts: G.edges(data=True) costs as much again.
    for u, nbrs in G._succ.items():
        if not nbrs:  # a leaf (most spans)
            continue
        source = ids[u]
        for v, keydict in nbrs.items():
            target = ids[v]
            if keydict is CHILD_EDGES:  # most pairs: one child edge, the shared keydict
                append({"source": source, "target": target, "kind": "child"})
                continue
            for d in keydict.values():
                if d["kind"] == "link":
                    append(
                        {
                            "source": source,
                            "target": target,
                            "kind": "link",
                            "link_type": d.get("link_type", "link"),
                            "attributes": d.get("attributes") or {},
                            "delay": d.get("delay"),
                        }
                    )
                else:
                    append({"source": source, "target": target, "kind": d["kind"]})
    return out


def span_elements(
    G: nx.MultiDiGraph,
) -> tuple[list[dict[str, Any]], list[tuple[int, int, dict[str, Any]]]]:
    """The span graph's own node dicts, and its edges as ``(u, v, data)`` by position.

    What the diagram needs (:func:`tracegraph.render.figures.diagram_of`),
    without building the API's node and edge dicts: the dicts are G's, to be
    read, not changed. Every edge of a pair comes once, child edges with the
    shared :data:`~tracegraph.graphs.build.CHILD` data.

    >>> from tracegraph.domain import SpanRecord
    >>> from tracegraph.graphs.build import build_graph
    >>> t = "a" * 32
    >>> G = build_graph([SpanRecord(t, "1" * 16, "GET /", 0, 10),
    ...                  SpanRecord(t, "2" * 16, "SELECT", 2, 5, parent_span_id="1" * 16)])
    >>> nodes, pairs = span_elements(G)
    >>> [n["name"] for n in nodes], [(u, v, d["kind"]) for u, v, d in pairs]
    (['GET /', 'SELECT'], [(0, 1, 'child')])
    """
    position = {n: i for i, n in enumerate(G._node)}
    pairs: list[tuple[int, int, dict[str, Any]]] = []
    append = pairs.append
    for u, nbrs in G._succ.items():
        iu = position[u]
        for v, keydict in nbrs.items():
            iv = position[v]
            for d in keydict.values():
                append((iu, iv, d))
    return list(G._node.values()), pairs


def level_nodes(G: nx.DiGraph) -> list[dict[str, Any]]:
    """Nodes of a trace- or service-level graph, ``id`` = the node key."""
    return [{"id": str(n), **d} for n, d in G.nodes(data=True)]


def level_edges(G: nx.DiGraph) -> list[dict[str, Any]]:
    """Aggregated edges of a trace- or service-level graph."""
    return [{"source": str(u), "target": str(v), **d} for u, v, d in G.edges(data=True)]


def _scalar_graph(G: nx.Graph) -> nx.MultiDiGraph:
    """A copy with string node ids and only GraphML-writable attribute values.

    A span's ``id`` attribute is left out: it is the node's name already.
    """

    def clean(data: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in data.items():
            if value is None or key == "id":
                continue
            if isinstance(value, (dict, list, tuple)):
                out[key] = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
            else:
                out[key] = value
        return out

    def name(n: Hashable) -> str:
        return span_id(n) if isinstance(n, tuple) else str(n)  # type: ignore[arg-type]

    H = nx.MultiDiGraph()
    H.add_nodes_from((name(n), clean(d)) for n, d in G.nodes(data=True))
    H.add_edges_from((name(u), name(v), clean(d)) for u, v, d in G.edges(data=True))
    return H


def to_graphml(G: nx.Graph) -> bytes:
    """GraphML of any level's graph (dict attributes as JSON text)."""
    buffer = io.BytesIO()
    nx.write_graphml(_scalar_graph(G), buffer)
    return buffer.getvalue()


def to_node_link(G: nx.Graph) -> dict[str, Any]:
    """networkx node-link JSON of any level's graph."""
    data: dict[str, Any] = nx.node_link_data(_scalar_graph(G), edges="edges")
    data["graph"] = {}  # anomalies hold tuples; the API reports them separately
    return data
