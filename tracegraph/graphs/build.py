"""Build one graph of spans from many traces: parent-child edges and link edges.

The graph is a :class:`networkx.MultiDiGraph` whose nodes are spans keyed
``(trace_id, span_id)``. Node attributes (fixed names, nothing else is stored
so that 20,000 spans stay small, see DESIGN §9):

``id, trace_id, span_id, name, service, kind, start, end, status, parent, ghost``

``id`` is the node's string id, ``"<trace_id>:<span_id>"`` (:func:`span_id`),
the one every export and the API name the span by. ``kind`` is the OTLP span
kind (0-5), ``status`` the OTLP status code (0-2), ``parent`` the parent span
id as sent (``""`` for a root), ``start``/``end`` integer nanoseconds. A link
target that is not loaded is a *ghost* node (``ghost=True``, ``start``/``end``
``None``) so that dangling links stay visible; so is the holder of an
incoming link whose trace is not loaded.

Edge attributes:

- ``kind="child"``: parent -> child, same trace; one shared read-only data
  dict (:data:`CHILD`), and a pair joined by nothing else shares its keydict
  too (:data:`CHILD_EDGES`): copy the graph before removing child edges.
- ``kind="link"``: cause -> effect, i.e. from the linked span to the span that
  holds the link, with ``link_type``, ``index`` (position in the holder's
  links), ``attributes`` (the link's own attribute dict, shared with the
  record, not copied) and ``delay`` (``effect.start - cause.end`` in ns when
  both are known, else ``None``; negative when they overlap).

Bad input is repaired for display, never fatal, and reported in
``G.graph["anomalies"]`` (see :class:`Anomalies`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

import networkx as nx

from tracegraph.domain.gc import gc_paused
from tracegraph.domain.records import (
    UNKNOWN_LINK_TYPE,
    LinkRecord,
    SpanRecord,
    StatusCode,
    infer_link_type,
)

__all__ = [
    "ANOMALY_NAMES",
    "Anomalies",
    "LinkRef",
    "NodeKey",
    "TruncatedRef",
    "build_graph",
    "child_edges",
    "empty_anomalies",
    "gc_paused",
    "is_error",
    "link_edges",
    "span_id",
    "split_edges",
]

#: A node of the graph: ``(trace_id, span_id)``.
NodeKey = tuple[str, str]
#: A link, named by its holder and its position among the holder's links.
LinkRef = tuple[str, str, int]
#: A span that lost links: ``(trace_id, span_id, dropped_links_count)``.
TruncatedRef = tuple[str, str, int]

#: The anomaly lists, in the order the UI shows them.
ANOMALY_NAMES = (
    "duplicate_spans",
    "parent_cycles",
    "orphans",
    "clock_skew",
    "invalid_links",
    "dangling_links",
    "truncated_links",
)


class Anomalies(TypedDict):
    """What :func:`build_graph` repaired or found odd, as counts and lists.

    ``counts`` has one entry per list (its length) plus ``dropped_links``, the
    sum of ``dropped_links_count`` over the loaded spans.

    - ``duplicate_spans``: keys seen more than once (the first span is kept).
    - ``parent_cycles``: one span per parent cycle, cut from its parent and
      kept as a root.
    - ``orphans``: spans whose parent is not loaded, shown as roots.
    - ``clock_skew``: children that start before their parent or end after it.
    - ``invalid_links``: links with all-zero or malformed target ids (no edge).
    - ``dangling_links``: links whose target is not loaded (edge to a ghost).
    - ``truncated_links``: spans that lost links (``dropped_links_count > 0``
      or a ``batch.links_truncated`` attribute on the span or one of its
      links), as ``(trace_id, span_id, dropped_links_count)``.
    """

    counts: dict[str, int]
    duplicate_spans: list[NodeKey]
    parent_cycles: list[NodeKey]
    orphans: list[NodeKey]
    clock_skew: list[NodeKey]
    invalid_links: list[LinkRef]
    dangling_links: list[LinkRef]
    truncated_links: list[TruncatedRef]


def empty_anomalies() -> Anomalies:
    """Return a fresh, empty :class:`Anomalies` dict.

    >>> empty_anomalies()["counts"]["orphans"]
    0
    """
    return {
        "counts": {name: 0 for name in (*ANOMALY_NAMES, "dropped_links")},
        "duplicate_spans": [],
        "parent_cycles": [],
        "orphans": [],
        "clock_skew": [],
        "invalid_links": [],
        "dangling_links": [],
        "truncated_links": [],
    }


class _ReadOnlyDict(dict):  # type: ignore[type-arg]
    """A dict that refuses writes. ``copy()`` gives a plain dict; a deep copy
    or an unpickled one stays shared and read-only, as a tuple would."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("shared read-only edge attributes: copy the graph to change them")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]

    def copy(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> _ReadOnlyDict:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ReadOnlyDict, (dict(self),))


#: The attributes of every parent -> child edge: one shared, read-only dict
#: instead of one per edge (a tenth of a 100,000-span build and ~100 bytes
#: per span). Writing to it raises instead of changing them all.
#: ``G.copy()`` and ``G.to_undirected()`` give each edge a dict of its own;
#: ``copy.deepcopy`` and pickle keep the edges sharing one read-only dict.
CHILD: Mapping[str, Any] = _ReadOnlyDict(kind="child")
#: The edges of every parent -> child pair that nothing else joins, networkx's
#: ``G._succ[parent][child]``, ``{0: CHILD}``: shared and read-only the same
#: way (~230 bytes per span). A link between the two gets a dict of its own.
CHILD_EDGES: Mapping[int, Mapping[str, Any]] = _ReadOnlyDict({0: CHILD})


def span_id(node: NodeKey) -> str:
    """The string id of a span node, its ``id`` attribute.

    >>> span_id(("a" * 32, "1" * 16))
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1111111111111111'
    """
    return f"{node[0]}:{node[1]}"


def _add_ghost(G: nx.MultiDiGraph, key: NodeKey) -> dict[str, Any]:
    """Add the ghost node ``key`` (straight into networkx's dicts); return its data."""
    data = G._node[key] = {
        "id": span_id(key),
        "trace_id": key[0],
        "span_id": key[1],
        "name": "",
        "service": "",
        "kind": 0,
        "start": None,
        "end": None,
        "status": 0,
        "parent": "",
        "ghost": True,
    }
    G._succ[key] = {}
    G._pred[key] = {}
    return data


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def build_graph(
    spans: Iterable[SpanRecord], *, links: Iterable[LinkRecord] | None = None
) -> nx.MultiDiGraph:
    """Return the combined span graph of ``spans`` and their links.

    Parameters
    ----------
    spans : iterable of SpanRecord
        The loaded spans, from any number of traces. Their own ``links`` become
        link edges.
    links : iterable of LinkRecord, optional
        Extra links, typically incoming links from other traces read from the
        store's reverse index. A link already held by a loaded span is not
        added twice; one whose holder is not loaded gets a ghost holder.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes ``(trace_id, span_id)``, edges ``kind="child"`` and
        ``kind="link"`` (cause -> effect), ``G.graph["anomalies"]``.

    Examples
    --------
    >>> from tracegraph.domain.records import LinkRecord, SpanRecord
    >>> t1, t2 = "1" * 32, "2" * 32
    >>> producer = SpanRecord(t1, "a" * 16, "order.publish", 0, 10)
    >>> consumer = SpanRecord(
    ...     t2, "b" * 16, "order.process", 30, 50,
    ...     links=(LinkRecord(t2, "b" * 16, 0, t1, "a" * 16),),
    ... )
    >>> G = build_graph([producer, consumer])
    >>> [(u[1][:1], v[1][:1], d["kind"], d["delay"]) for u, v, d in G.edges(data=True)]
    [('a', 'b', 'link', 20)]
    """
    with gc_paused():
        return _build(spans, links)


def _build(spans: Iterable[SpanRecord], links: Iterable[LinkRecord] | None) -> nx.MultiDiGraph:
    G = nx.MultiDiGraph()
    anomalies = empty_anomalies()
    G.graph["anomalies"] = anomalies

    # Dedupe span ids: the first span wins, later copies are only counted
    # (jaeger-ui does the same; a re-sent span is usually identical).
    # Nodes go straight into networkx's own dicts, exactly what add_nodes_from
    # and add_edges_from build, without their per-call overhead (3x faster at
    # 20,000 spans). Only these three dicts are written; G's views read them.
    # Until the link edges add ghosts, ``node`` holds the loaded spans only.
    node, succ, pred = G._node, G._succ, G._pred
    trace_ids: dict[str, str] = {}  # one string object per trace id: memory
    dropped: dict[NodeKey, int] = {}  # spans that lost links -> dropped_links_count
    holders: list[tuple[NodeKey, SpanRecord]] = []  # the spans that hold links
    for span in spans:
        t = trace_ids.setdefault(span.trace_id, span.trace_id)
        key = (t, span.span_id)
        if key in node:
            anomalies["duplicate_spans"].append(key)
            continue
        node[key] = {
            "id": f"{t}:{span.span_id}",  # span_id(key), inline: once per span
            "trace_id": t,
            "span_id": span.span_id,
            "name": span.name,
            "service": span.service,
            "kind": int(span.kind),
            "start": span.start,
            "end": span.end,
            "status": int(span.status_code),
            "parent": span.parent_span_id,
            "ghost": False,
        }
        succ[key] = {}
        pred[key] = {}
        if span.links:
            holders.append((key, span))
        if span.dropped_links_count > 0:
            dropped[key] = span.dropped_links_count
        elif span.attributes and _truthy(span.attributes.get("batch.links_truncated", False)):
            dropped[key] = 0

    # Parent edges. A parent pointer that is missing makes an orphan root; a
    # pointer that closes a cycle is cut at one span, which becomes a root.
    # Around a cycle the starts cannot all rise from parent to child, so only
    # walks from children starting no later than their parent can find one.
    parent_of: dict[NodeKey, NodeKey] = {}
    orphans = anomalies["orphans"]
    skewed = anomalies["clock_skew"]
    early: list[NodeKey] = []  # children starting no later than their parent
    for key, data in node.items():
        pid = data["parent"]
        if pid:
            pkey = (key[0], pid)
            parent = node.get(pkey)
            if parent is None:
                orphans.append(key)
                continue
            parent_of[key] = pkey
            if data["start"] <= parent["start"]:
                early.append(key)
            if data["start"] < parent["start"] or data["end"] > parent["end"]:
                skewed.append(key)
    cuts = _cycle_cuts(parent_of, node, early)
    for cut in cuts:
        del parent_of[cut]
        anomalies["parent_cycles"].append(cut)
    if cuts:  # a span cut from its parent is a root: not skewed against it
        roots = set(cuts)
        skewed[:] = [key for key in skewed if key not in roots]

    for key, pkey in parent_of.items():
        succ[pkey][key] = pred[key][pkey] = CHILD_EDGES

    # Link edges, cause -> effect. A link is known by (holder, index): the
    # extra links repeat those loaded spans hold, and are skipped here.
    seen: set[LinkRef] = set()
    for key, span in holders:
        for link in span.links:
            ref = (key[0], key[1], link.index)
            if ref not in seen:
                seen.add(ref)
                _add_link(G, key, link, dropped, anomalies)
    for link in links or ():
        t = trace_ids.get(link.trace_id, link.trace_id)
        ref = (t, link.span_id, link.index)
        if ref not in seen:
            seen.add(ref)
            _add_link(G, (t, link.span_id), link, dropped, anomalies)

    anomalies["truncated_links"] = sorted((t, s, n) for (t, s), n in dropped.items())
    counts = anomalies["counts"]
    for name in ANOMALY_NAMES:
        counts[name] = len(anomalies[name])  # type: ignore[literal-required]
    counts["dropped_links"] = sum(dropped.values())
    return G


def _add_link(
    G: nx.MultiDiGraph,
    holder: NodeKey,
    link: LinkRecord,
    dropped: dict[NodeKey, int],
    anomalies: Anomalies,
) -> None:
    if link.invalid or not link.linked_trace_id or not link.linked_span_id:
        anomalies["invalid_links"].append((holder[0], holder[1], link.index))
        return
    attributes = link.attributes
    if "batch.links_truncated" in attributes and _truthy(attributes["batch.links_truncated"]):
        dropped.setdefault(holder, 0)
    node = G._node
    cause = (link.linked_trace_id, link.linked_span_id)
    cause_data = node.get(cause)
    if cause_data is None or cause_data["ghost"]:
        anomalies["dangling_links"].append((holder[0], holder[1], link.index))
        if cause_data is None:
            cause_data = _add_ghost(G, cause)
    effect_data = node.get(holder) or _add_ghost(G, holder)
    link_type = link.link_type
    if link_type == UNKNOWN_LINK_TYPE:
        # Records built by hand may carry ``link.type`` without the field set.
        link_type = infer_link_type(attributes)
    delay = None
    if not cause_data["ghost"] and not effect_data["ghost"]:
        delay = effect_data["start"] - cause_data["end"]
    data = {
        "kind": "link",
        "link_type": link_type,
        "index": link.index,
        "attributes": attributes,
        "delay": delay,
    }
    # What G.add_edge(cause, holder, **data) does, at a third of its cost.
    succ = G._succ[cause]
    keydict = succ.get(holder)
    if keydict is None:  # the pair's first edge (most links)
        succ[holder] = G._pred[holder][cause] = {0: data}
        return
    if keydict is CHILD_EDGES:  # a span linking its own parent: a dict of its own
        keydict = succ[holder] = G._pred[holder][cause] = {0: CHILD}
    k = len(keydict)
    while k in keydict:
        k += 1
    keydict[k] = data


def _cycle_cuts(
    parent_of: dict[NodeKey, NodeKey],
    nodes: Mapping[NodeKey, Mapping[str, Any]],
    starts: Iterable[NodeKey] | None = None,
) -> list[NodeKey]:
    """One span per cycle of parent pointers: the earliest-starting one.

    Walk each chain once, colouring nodes by the walk that reached them; a
    walk that meets its own colour has found a cycle. ``starts`` are the
    nodes to walk from (default: every child); each cycle must hold one.
    ``nodes`` are the node dicts (for ``start``).

    >>> a, b, c = ("t", "a"), ("t", "b"), ("t", "c")
    >>> nodes = {k: {"start": i} for i, k in enumerate((a, b, c))}
    >>> _cycle_cuts({a: b, b: a, c: a}, nodes), _cycle_cuts({a: b, b: a}, nodes, [b])
    ([('t', 'a')], [('t', 'a')])
    """
    state: dict[NodeKey, int] = {}
    cuts: list[NodeKey] = []
    for walk, start in enumerate(parent_of if starts is None else starts):
        if start in state:
            continue
        path: list[NodeKey] = []
        cur: NodeKey | None = start
        while cur is not None and cur not in state:
            state[cur] = walk
            path.append(cur)
            cur = parent_of.get(cur)
        if cur is not None and state[cur] == walk:
            cycle = path[path.index(cur) :]
            cuts.append(min(cycle, key=lambda k: (nodes[k]["start"], k)))
    return cuts


def link_edges(G: nx.MultiDiGraph) -> list[tuple[NodeKey, NodeKey, int, dict[str, Any]]]:
    """Return the link edges of ``G`` as ``(cause, effect, key, data)``.

    >>> G = nx.MultiDiGraph()
    >>> _ = G.add_edge("a", "b", kind="link")
    >>> _ = G.add_edge("a", "c", kind="child")
    >>> [(u, v) for u, v, _, _ in link_edges(G)]
    [('a', 'b')]
    """
    # Plain dict iteration: G.edges(keys=True, data=True) is ~10x slower; a
    # pair joined by the shared child keydict alone is skipped whole.
    return [
        (u, v, k, d)
        for u, nbrs in G._succ.items()
        for v, keydict in nbrs.items()
        if keydict is not CHILD_EDGES
        for k, d in keydict.items()
        if d.get("kind") == "link"
    ]


def split_edges(
    G: nx.MultiDiGraph,
) -> tuple[list[tuple[NodeKey, NodeKey]], list[tuple[NodeKey, NodeKey, int, dict[str, Any]]]]:
    """Return ``(child_edges(G), link_edges(G))`` in one pass over the edges.

    >>> G = nx.MultiDiGraph()
    >>> _ = G.add_edge("a", "b", kind="link")
    >>> _ = G.add_edge("a", "c", kind="child")
    >>> split_edges(G)
    ([('a', 'c')], [('a', 'b', 0, {'kind': 'link'})])
    """
    children: list[tuple[NodeKey, NodeKey]] = []
    links: list[tuple[NodeKey, NodeKey, int, dict[str, Any]]] = []
    for u, nbrs in G._succ.items():
        for v, keydict in nbrs.items():
            if keydict is CHILD_EDGES:
                children.append((u, v))
                continue
            for k, d in keydict.items():
                kind = d.get("kind")
                if kind == "child":
                    children.append((u, v))
                elif kind == "link":
                    links.append((u, v, k, d))
    return children, links


def child_edges(G: nx.MultiDiGraph) -> list[tuple[NodeKey, NodeKey]]:
    """Return the parent -> child edges of ``G``.

    >>> G = nx.MultiDiGraph()
    >>> _ = G.add_edge("p", "c", kind="child")
    >>> child_edges(G)
    [('p', 'c')]
    """
    return [
        (u, v)
        for u, nbrs in G._succ.items()
        for v, keydict in nbrs.items()
        if any(d.get("kind") == "child" for d in keydict.values())
    ]


def is_error(data: dict[str, Any]) -> bool:
    """True if a node's ``status`` is OTLP ``ERROR``.

    >>> is_error({"status": 2}), is_error({"status": 0})
    (True, False)
    """
    return bool(data.get("status") == StatusCode.ERROR)
