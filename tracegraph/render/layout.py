"""Positions for the cross-trace diagram; no drawing, no I/O (DESIGN §6).

Input is a node list of plain dicts (the graph API's nodes, or a span graph's
own node dicts, :mod:`tracegraph.graphs.export`) and the edges as *pairs*
``(u, v, data)`` of node positions in that list (:func:`edge_pairs` makes
them from the API's edges). Output is a :class:`Layout`: for node ``i`` of
the input, ``x0[i]..x1[i]`` on the x axis and row ``y[i]``; :mod:`.figures`
turns it into a plotly figure.

Two layouts, both linear or ``n log n`` in the nodes (a request never runs
spring_layout or graphviz: minutes at 10,000 nodes):

``timeline``
    x = time in milliseconds since the earliest start; one horizontal *band*
    per trace, bands ordered by trace start; inside a band one row per span
    in waterfall order (depth-first, children by start time). Ghost spans
    (link targets not loaded) sit in their trace's band at the time of the
    span they are linked with. Trace level: one row per trace.
``dag``
    x = topological generation over child and link edges (Kahn's algorithm;
    nodes on a cycle are placed one generation after everything else), y =
    rank inside the generation, by trace then start.

>>> nodes = [
...     {"id": "t1:a", "trace_id": "t1", "parent": "", "start": 0, "end": 10},
...     {"id": "t1:b", "trace_id": "t1", "parent": "a", "start": 2, "end": 5},
...     {"id": "t2:c", "trace_id": "t2", "parent": "", "start": 20, "end": 30},
... ]
>>> pairs = edge_pairs(nodes, [{"source": "t1:a", "target": "t2:c", "kind": "link"}])
>>> pairs
[(0, 2, {'source': 't1:a', 'target': 't2:c', 'kind': 'link'})]
>>> L = timeline_layout(nodes, pairs)
>>> L.y, [b.key for b in L.bands]
([0.0, 1.0, 3.0], ['t1', 't2'])
>>> dag_layout(nodes, pairs).x0
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Band", "Layout", "Pair", "dag_layout", "edge_pairs", "generations", "timeline_layout"]

NodeDict = Mapping[str, Any]
EdgeDict = Mapping[str, Any]
#: An edge as the positions of its source and target in the node list, and its data.
Pair = tuple[int, int, EdgeDict]

#: Empty rows between two trace bands.
BAND_GAP = 1.0


@dataclass(frozen=True, slots=True)
class Band:
    """The rows ``y0..y1`` (inclusive) of one trace in a timeline."""

    key: str
    y0: float
    y1: float
    ghost: bool = False


@dataclass(slots=True)
class Layout:
    """Positions, index-aligned with the input nodes.

    ``order`` lists node indices in drawing order (waterfall order for a
    timeline). ``t0`` is the time origin in ns (timeline; 0 for dag), ``rows``
    the number of rows used.
    """

    kind: Literal["timeline", "dag"]
    x0: list[float]
    x1: list[float]
    y: list[float]
    order: list[int]
    bands: list[Band] = field(default_factory=list)
    t0: int = 0
    rows: float = 0.0


def edge_pairs(nodes: Sequence[NodeDict], edges: Sequence[EdgeDict]) -> list[Pair]:
    """The API's edges (``source``/``target`` node ids) as pairs of positions
    in ``nodes``; an edge whose end is not in ``nodes`` is left out."""
    index = {str(n["id"]): i for i, n in enumerate(nodes)}
    pairs: list[Pair] = []
    for e in edges:
        u, v = index.get(str(e["source"])), index.get(str(e["target"]))
        if u is not None and v is not None:
            pairs.append((u, v, e))
    return pairs


def _local_id(d: NodeDict) -> str:
    """A node's id inside its trace: the span id, or the id of a trace or service node."""
    return str(d.get("span_id") or d["id"])


def _waterfall(members: list[int], nodes: Sequence[NodeDict]) -> list[int]:
    """Depth-first, children by start; orphans and loop members become roots."""
    # Sorted by (start, span id) once: every list built below is then in order.
    local = {i: _local_id(nodes[i]) for i in members}
    ordered = sorted(members, key=lambda i: (nodes[i].get("start") or 0, local[i]))
    by_span = {local[i]: i for i in ordered}
    children: dict[int, list[int]] = defaultdict(list)
    roots: list[int] = []
    for i in ordered:
        p = by_span.get(str(nodes[i].get("parent") or ""))
        if p is not None and p != i:
            children[p].append(i)
        else:
            roots.append(i)

    # Each member is in one list (a parent's children, or the roots), so the
    # walk meets it at most once.
    out: list[int] = []
    stack = roots[::-1]
    while stack:
        i = stack.pop()
        out.append(i)
        kids = children.get(i)
        if kids:
            stack.extend(reversed(kids))
    # Members of a parent loop are reachable from no root: append them by start.
    if len(out) < len(members):
        seen = set(out)
        out.extend(i for i in ordered if i not in seen)
    return out


def timeline_layout(nodes: Sequence[NodeDict], pairs: Sequence[Pair]) -> Layout:
    """One band per trace, x = time (ms since the earliest start), y = row.

    Works for span-level nodes (``trace_id``, ``parent``, ``start``, ``end``)
    and trace-level nodes (one row each, ``id`` = trace id).

    >>> L = timeline_layout(
    ...     [{"trace_id": "t", "span_id": "g", "start": None, "end": None, "ghost": True},
    ...      {"trace_id": "u", "span_id": "a", "start": 5_000_000, "end": 7_000_000}],
    ...     [(0, 1, {"kind": "link"})])
    >>> L.x0, L.t0, [(b.key, b.ghost) for b in L.bands]
    ([0.0, 0.0], 5000000, [('u', False), ('t', True)])
    """
    n = len(nodes)
    known = {i for i, d in enumerate(nodes) if d.get("start") is not None and not d.get("ghost")}
    t0 = min((int(nodes[i]["start"]) for i in known), default=0)
    x0 = [0.0] * n
    x1 = [0.0] * n
    # Whole microseconds, in ms: the shortest decimal of each is at most 3
    # places, so the figure's JSON needs no rounding (100,000 round() calls).
    for i in known:
        d = nodes[i]
        start = int(d["start"])
        x0[i] = (start - t0) // 1000 / 1000
        x1[i] = (int(d.get("end") or start) - t0) // 1000 / 1000
    # A ghost has no times: place it where the span it is linked with is.
    placed = set(known)
    for u, v, _ in pairs if len(placed) < n else ():
        if u not in placed and v in placed:  # ghost cause: at the effect's start
            x0[u] = x1[u] = x0[v]
            placed.add(u)
        elif v not in placed and u in placed:  # ghost effect: at the cause's end
            x0[v] = x1[v] = x1[u]
            placed.add(v)

    groups: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(nodes):
        groups[str(d.get("trace_id") or d["id"])].append(i)

    def band_key(item: tuple[str, list[int]]) -> tuple[int, float, str]:
        trace, members = item
        real = [x0[i] for i in members if i in known]
        return (0 if real else 1, min(real) if real else min(x0[i] for i in members), trace)

    y = [0.0] * n
    order: list[int] = []
    bands: list[Band] = []
    row = 0.0
    for trace, members in sorted(groups.items(), key=band_key):
        top = row
        for i in _waterfall(members, nodes):
            y[i] = row
            order.append(i)
            row += 1
        bands.append(Band(trace, top, row - 1, ghost=not any(i in known for i in members)))
        row += BAND_GAP
    return Layout("timeline", x0, x1, y, order, bands, t0, max(0.0, row - BAND_GAP))


def _kahn(n: int, pairs: Sequence[tuple[int, int]]) -> tuple[list[int], list[bool]]:
    """Kahn's algorithm: each node's generation, and whether it was reached
    (a node on or downstream of a cycle is not)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for u, v in pairs:
        if u != v:
            succ[u].append(v)
            indeg[v] += 1
    gen = [0] * n
    queue = deque(i for i in range(n) if indeg[i] == 0)
    done = [False] * n
    while queue:
        u = queue.popleft()
        done[u] = True
        for v in succ[u]:
            gen[v] = max(gen[v], gen[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)
    return gen, done


def generations(n: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """Topological generation of each of ``n`` nodes over directed ``pairs``.

    Nodes on (or downstream of) a cycle get one generation after the deepest
    acyclic one, so a repaired parent loop stays visible instead of failing.

    >>> generations(4, [(0, 1), (1, 2), (0, 2)])
    [0, 1, 2, 0]
    >>> generations(3, [(0, 1), (1, 0), (2, 0)])
    [1, 1, 0]
    """
    gen, done = _kahn(n, pairs)
    last = max((gen[i] for i in range(n) if done[i]), default=-1)
    for i in range(n):
        if not done[i]:
            gen[i] = max(gen[i], last + 1)
    return gen


def _without_cycles(
    pairs: list[tuple[int, int]], nodes: Sequence[NodeDict]
) -> list[tuple[int, int]]:
    """``pairs``, less the edges that go back in time when they close a cycle.

    Links can close cycles across traces (a batch span linking items that
    started after it, a clock off between hosts); without the backward edges
    the generations spread out again instead of collapsing the whole cyclic
    region into one layer. An acyclic graph keeps every edge.

    >>> nodes = [{"start": 0}, {"start": 5}, {"start": 9}]
    >>> _without_cycles([(0, 1), (1, 2), (2, 0)], nodes)
    [(0, 1), (1, 2)]
    >>> _without_cycles([(0, 1), (2, 1)], nodes)
    [(0, 1), (2, 1)]
    """
    if not all(_kahn(len(nodes), pairs)[1]):
        start = [d.get("start") for d in nodes]

        def backward(u: int, v: int) -> bool:
            su, sv = start[u], start[v]
            return su is not None and sv is not None and sv < su

        return [(u, v) for u, v in pairs if not backward(u, v)]
    return pairs


def dag_layout(nodes: Sequence[NodeDict], pairs: Sequence[Pair]) -> Layout:
    """Layers by topological generation over every edge; y = rank in the layer."""
    ends = [(u, v) for u, v, _ in pairs]
    gen = generations(len(nodes), _without_cycles(ends, nodes))
    layers: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(gen):
        layers[g].append(i)
    y = [0.0] * len(nodes)
    order: list[int] = []
    tallest = max((len(m) for m in layers.values()), default=0)
    for g in sorted(layers):
        members = sorted(
            layers[g],
            key=lambda i: (
                str(nodes[i].get("trace_id") or ""),
                nodes[i].get("start") or 0,
                _local_id(nodes[i]),
            ),
        )
        offset = (tallest - len(members)) / 2  # centre short layers
        for rank, i in enumerate(members):
            y[i] = offset + rank
            order.append(i)
    x = [float(g) for g in gen]
    return Layout("dag", x, list(x), y, order, [], 0, float(max(tallest - 1, 0)))
